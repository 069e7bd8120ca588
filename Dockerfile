# The hub's image: one image, every part (web, worker, beat, flower) is a `hub` subcommand.
FROM python:3.11-slim
WORKDIR /app
COPY setup.cfg pyproject.toml README.md beat_schedule.py ./
COPY hub ./hub
COPY tasks ./tasks
COPY mappings ./mappings
RUN pip install --no-cache-dir . && useradd --create-home hub && mkdir -p /var/lib/hub && chown hub /var/lib/hub
USER hub
ENV HUB_VAR_DIR=/var/lib/hub
EXPOSE 8080 5555
CMD ["hub", "web"]
