"""One module per flow (named after it), plus health, jobs and the OpenAPI document.

Each module defines a Blueprint ``bp``; :func:`hub.app.register_routes` finds them all.
"""
