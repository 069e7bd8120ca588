"""``python -m hub.sandbox [--host H] [--port P] [--settings FILE.json]``: run the sandbox."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hub.sandbox.server import run_sandbox_forever


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m hub.sandbox",
                                     description="Simulated DACS (/dacs) and DERMS (/derms).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--settings", type=Path, default=None,
                        help="JSON file of settings (dacs_auth, derms_auth, oauth_clients, ...)")
    args = parser.parse_args(argv)
    settings = json.loads(args.settings.read_text()) if args.settings else None
    run_sandbox_forever(args.host, args.port, settings)


if __name__ == "__main__":
    main()
