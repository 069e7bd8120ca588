"""The ``hub`` command: ``hub up`` runs everything; each part also runs alone for real deployments."""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import click

from hub.config import ConfigError, check_ready, load_config

SANDBOX_PORT = 8081
MAIL_PORT = 8025


def _load(config_file: str | None):  # type: ignore[no-untyped-def]
    try:
        return load_config(config_file)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def _init(config_file: str | None, *, log_level: str = "INFO"):  # type: ignore[no-untyped-def]
    """Load the config and prepare this process: metrics, JSON logs, then the runtime.

    Metrics first: every hub process writes its counters to ``<var.dir>/metrics`` (multiprocess
    mode, see hub/metrics.py), so that ``/metrics`` on the front door sees the workers' counts.
    """
    from hub import metrics, runtime
    from hub.logs import setup_logging

    config = _load(config_file)
    metrics.setup(config.var_dir / "metrics")
    setup_logging(os.environ.get("HUB_LOG_LEVEL", log_level), log_secrets(config))
    runtime.init(config)
    return config


def log_secrets(config: Any) -> list[str]:
    """Everything the logs must mask: each configured secret in every spelling, and the Basic
    headers made from the configured user/password pairs."""
    from hub.logs import secret_variants

    pairs = [(config.get(f"clients.{c}.username"), config.get(f"clients.{c}.password"))
             for c in ("dacs", "derms", "ops")]
    pairs += [(config.get(f"{t}.auth.username"), config.get(f"{t}.auth.password"))
              for t in ("dacs", "derms")]
    pairs += [(config.get(f"{t}.auth.client.id"), config.get(f"{t}.auth.client.secret"))
              for t in ("dacs", "derms")]
    pairs.append((config.get("smtp.username"), config.get("smtp.password")))
    return secret_variants(config.secrets(), [(u, p) for u, p in pairs if u and p])


config_option = click.option("--config", "config_file", envvar="HUB_CONFIG", default=None,
                             help="config file (key = value lines); default $HUB_CONFIG")


@click.group()
def main() -> None:
    """The utility integration hub between DACS and Edge DERMS."""


# -- the parts ---------------------------------------------------------------------------------
@main.command()
@config_option
@click.option("--host", default="0.0.0.0", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
def web(config_file: str | None, host: str, port: int, threads: int) -> None:
    """Run the front door (waitress)."""
    from waitress import serve

    from hub.app import create_app

    config = _init(config_file)
    app = create_app(config)
    serve(app, host=host, port=port, threads=threads, ident="hub",
          max_request_body_size=config["upload.max.bytes"])


@main.command()
@config_option
@click.option("--concurrency", type=int, default=None, help="processes; default worker.concurrency")
@click.option("--pool", default="prefork", show_default=True,
              type=click.Choice(["prefork", "threads", "solo"]))
@click.option("--queues", default=None, help="comma-separated; default all the hub's queues")
@click.option("--hostname", default=None)
def worker(config_file: str | None, concurrency: int | None, pool: str, queues: str | None,
           hostname: str | None) -> None:
    """Run a Celery worker for every flow."""
    config = _init(config_file)
    from tasks.app import QUEUES, celery_app

    # --quiet: no banner on stdout; every line the worker writes is a JSON log line.
    argv = ["--quiet", "worker", f"--concurrency={concurrency or config['worker.concurrency']}",
            f"--pool={pool}", f"--queues={queues or ','.join(QUEUES)}", "--loglevel=INFO",
            "--without-gossip", "--without-mingle", "-E"]
    if hostname:
        argv.append(f"--hostname={hostname}")
    celery_app.worker_main(argv)


@main.command()
@config_option
def beat(config_file: str | None) -> None:
    """Run Celery Beat. Only one may run: it holds a lease in the ledger while it runs."""
    from hub import runtime
    from tasks.app import celery_app

    config = _init(config_file)
    ledger = runtime.get().ledger
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    lease = dt.timedelta(seconds=60)
    if not ledger.claim_file("beat", "lock", owner, lease):
        raise click.ClickException("another hub beat holds the lock; only one Beat may run "
                                   "(the lease expires 60 s after that Beat stops)")

    def renew() -> None:
        while True:
            time.sleep(20)
            if not ledger.renew_claim("beat", "lock", owner, lease):
                click.echo("hub beat lost its lock; stopping", err=True)
                os.kill(os.getpid(), signal.SIGTERM)
                return

    threading.Thread(target=renew, daemon=True, name="beat-lock").start()
    _record_schedule_runs(ledger, celery_app)
    try:
        celery_app.start(["--quiet", "beat", "--loglevel=INFO",
                          f"--schedule={config.var_dir / 'beat-schedule'}"])
    finally:
        ledger.release_claim("beat", "lock", owner)


def _record_schedule_runs(ledger: Any, celery_app: Any) -> Any:
    """Each time Beat sends a scheduled task, record the entry's last run in the ledger, where
    the ops pages (on any host) read it. Beat's own schedule file is a pickle shelve that only
    the Beat host can read, and only while Beat does not hold it."""
    from celery.signals import after_task_publish

    entries: dict[str, list[str]] = {}
    for name, entry in (celery_app.conf.beat_schedule or {}).items():
        entries.setdefault(entry["task"], []).append(name)

    def record(sender: str | None = None, headers: dict[str, Any] | None = None,
               **_: Any) -> None:
        for name in entries.get(sender or "", ()):
            ledger.mark_schedule_run(name, sender, (headers or {}).get("id"))

    after_task_publish.connect(record, weak=False)
    return record


@main.command()
@config_option
@click.option("--port", default=5555, show_default=True, type=int)
@click.option("--address", default="0.0.0.0", show_default=True)
def flower(config_file: str | None, port: int, address: str) -> None:
    """Run Flower behind the ops credentials, with persistent state under var/."""
    from tasks.app import celery_app

    config = _init(config_file)
    user, password = config.get("clients.ops.username"), config.get("clients.ops.password")
    if not (user and password):
        raise click.ClickException("Flower needs clients.ops.username and clients.ops.password")
    # Through the environment, not argv: argv is visible to every user of the machine.
    os.environ["FLOWER_BASIC_AUTH"] = f"{user}:{password}"
    os.environ.setdefault("FLOWER_UNAUTHENTICATED_API", "false")
    celery_app.start(["flower", f"--port={port}", f"--address={address}", "--persistent=True",
                      f"--db={config.var_dir / 'flower.db'}", "--state_save_interval=60000",
                      "--purge_offline_workers=600"])


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=SANDBOX_PORT, show_default=True, type=int)
@click.option("--settings", "settings_file", type=click.Path(exists=True, dir_okay=False),
              default=None, help="JSON settings: dacs_auth, derms_auth, oauth_clients, ... "
                                 "(docs/sandbox.md)")
def sandbox(host: str, port: int, settings_file: str | None) -> None:
    """Run the simulated DACS (/dacs) and DERMS (/derms)."""
    from hub.sandbox import run_sandbox_forever

    settings = json.loads(Path(settings_file).read_text()) if settings_file else None
    run_sandbox_forever(host, port, settings)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=MAIL_PORT, show_default=True, type=int)
@click.option("--dir", "directory", default="var/mail", show_default=True)
def mailsink(host: str, port: int, directory: str) -> None:
    """Run an SMTP sink that writes each mail it receives as an .eml file."""
    from hub.mailsink import run_mail_sink_forever

    run_mail_sink_forever(directory, host, port)


# -- config ------------------------------------------------------------------------------------
@main.group()
def config() -> None:
    """Inspect and validate the configuration."""


@config.command("check")
@config_option
def config_check(config_file: str | None) -> None:
    """Validate the config; name each bad or missing property and exit non-zero if any."""
    try:
        cfg = load_config(config_file)
    except ConfigError as exc:
        for name, message in sorted(exc.problems.items()):
            click.echo(f"{name}: {message}", err=True)
        sys.exit(1)
    problems = check_ready(cfg)
    for name, message in sorted(problems.items()):
        click.echo(f"{name}: {message}", err=True)
    if problems:
        sys.exit(1)
    click.echo("config OK")


@config.command("show")
@config_option
def config_show(config_file: str | None) -> None:
    """Print every property with its value (secrets masked) and where it came from."""
    cfg = _load(config_file)
    for name, value in sorted(cfg.public().items()):
        click.echo(f"{name} = {'' if value is None else value}    # {cfg.sources.get(name, 'default')}")


@config.command("table")
def config_table() -> None:
    """Print every property as the Markdown tables of docs/configuration.md."""
    from hub.config import PROPERTIES, env_name

    def default(prop: Any) -> str:
        value = prop.default
        if value is None:
            return ""
        if isinstance(value, bool):
            value = str(value).lower()
        elif isinstance(value, float) and value.is_integer():
            value = int(value)
        return f"`{value}`"

    groups = [
        ("Inbound credentials (who may call the hub)", lambda k: k.startswith("clients.")),
        ("Targets and outbound credentials",
         lambda k: k in ("dacs.base.url", "derms.base.url") or ".auth." in k),
        ("Outbound paths (defaults are the contract's; override per site)",
         lambda k: ".path." in k),
        ("Files and transfers (Oracle's ConfigProps)", lambda k: k.startswith("dacs.")),
        ("Notifications (Oracle's ConfigProps and Email_ID)",
         lambda k: k.startswith(("notification.", "email."))),
        ("The hub's own", lambda k: True),
    ]
    seen: set[str] = set()
    for title, belongs in groups:
        click.echo(f"\n### {title}\n\n| Property | Environment | Default | Secret | Meaning |\n"
                   "|---|---|---|---|---|")
        for name, prop in PROPERTIES.items():
            if name not in seen and belongs(name):
                seen.add(name)
                click.echo(f"| `{name}` | `{env_name(name)}` | {default(prop)} | "
                           f"{'yes' if prop.secret else ''} | {prop.doc} |")


# -- failed work ---------------------------------------------------------------------------------
@main.group()
def failed() -> None:
    """List, show, re-queue and discard failed work (the dead-letter ledger).

    These commands talk to the ledger directly and enqueue on the configured broker, so they
    work while the front door is down.
    """


def parse_time(value: str | None) -> dt.datetime | None:
    """``2026-12-04T10:00:00Z`` (ISO 8601, UTC if no zone) or a relative ``30m``, ``2h``, ``1d``."""
    if not value:
        return None
    import re

    relative = re.fullmatch(r"\s*(\d+)\s*([smhd])\s*", value)
    if relative:
        unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[relative.group(2)]
        return dt.datetime.now(dt.UTC) - dt.timedelta(**{unit: int(relative.group(1))})
    from hub.ledger import parse_iso

    try:
        return parse_iso(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r}: use ISO 8601 (2026-12-04T10:00:00Z) or 30m, 2h, "
                                 "1d") from exc


def _failed_init(config_file: str | None) -> Any:
    from hub import runtime

    # Quiet logs: the command's own output is what the operator reads.
    _init(config_file, log_level="WARNING")
    return runtime.get().ledger


@failed.command("list")
@config_option
@click.option("--flow", default=None, help="only this flow")
@click.option("--since", default=None, help="ISO 8601 time, or 30m, 2h, 1d ago")
@click.option("--status", default="OPEN", show_default=True,
              type=click.Choice(["OPEN", "REQUEUED", "DISCARDED", "all"], case_sensitive=False))
@click.option("--limit", default=500, show_default=True, type=int)
@click.option("--json", "as_json", is_flag=True, help="a JSON array, for scripts")
def failed_list(config_file: str | None, flow: str | None, since: str | None, status: str,
                limit: int, as_json: bool) -> None:
    """Open failed work, newest first."""
    from hub.requeue import dead_letter_document

    ledger = _failed_init(config_file)
    rows = ledger.list_dead_letters(flow=flow, since=parse_time(since), limit=limit,
                                    status=None if status.lower() == "all" else status.upper())
    documents = [dead_letter_document(r) for r in rows]
    if as_json:
        click.echo(json.dumps(documents, indent=2))
        return
    if not documents:
        click.echo("no failed work" + (f" for {flow}" if flow else ""))
        return
    click.echo(f"{'ID':36}  {'CREATED (UTC)':19}  {'STATUS':9}  {'FLOW':22}  {'STEP':30}  "
               f"{'TRIES':>5}  JOB / ERROR")
    for d in documents:
        created = (d["createdAt"] or "")[:19].replace("T", " ")
        click.echo(f"{d['id']:36}  {created:19}  {d['status']:9}  {d['flow']:22}  "
                   f"{d['step']:30}  {d['attempts']:>5}  {d['jobId'] or '-'}")
        click.echo(f"{'':36}  {d['error'][:120]}")


@failed.command("show")
@config_option
@click.argument("entry_id")
def failed_show(config_file: str | None, entry_id: str) -> None:
    """One entry with its stored input, as JSON."""
    from hub.requeue import dead_letter_document

    entry = _failed_init(config_file).get_dead_letter(entry_id)
    if entry is None:
        raise click.ClickException(f"no failed entry {entry_id}")
    click.echo(json.dumps(dead_letter_document(entry, with_input=True), indent=2))


@failed.command("requeue")
@config_option
@click.argument("entry_id", required=False)
@click.option("--all", "all_", is_flag=True, help="every OPEN entry (narrow with --flow/--since)")
@click.option("--flow", default=None, help="with --all: only this flow")
@click.option("--since", default=None, help="with --all: created since (ISO 8601, or 30m, 2h, 1d)")
@click.option("--until", default=None, help="with --all: created until")
def failed_requeue(config_file: str | None, entry_id: str | None, all_: bool, flow: str | None,
                   since: str | None, until: str | None) -> None:
    """Run failed work again from its stored input: one entry by ID, or --all."""
    from hub import requeue as rq

    if bool(entry_id) == all_:
        raise click.UsageError("give an entry ID or --all, not both and not neither")
    if not all_ and (flow or since or until):
        raise click.UsageError("--flow, --since and --until go with --all")
    ledger = _failed_init(config_file)
    if entry_id:
        try:
            done = rq.requeue(ledger, entry_id, by="cli")
        except rq.DeadLetterNotFound as exc:
            raise click.ClickException(f"no failed entry {entry_id}") from exc
        except (rq.AlreadyResolved, rq.EnqueueFailed) as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"re-queued {done.id}: {done.step} for job {done.job_id or '-'} "
                   f"(task {done.task_id})")
        return
    result = rq.requeue_many(ledger, flow=flow, since=parse_time(since), until=parse_time(until),
                             by="cli")
    for done in result.requeued:
        click.echo(f"re-queued {done.id}: {done.step} for job {done.job_id or '-'} "
                   f"(task {done.task_id})")
    click.echo(f"{len(result.requeued)} re-queued, {len(result.skipped)} already taken")
    if result.failed:
        raise click.ClickException(f"stopped: {result.failed[0]['error']}; the rest are still "
                                   "OPEN")


@failed.command("discard")
@config_option
@click.argument("entry_id")
def failed_discard(config_file: str | None, entry_id: str) -> None:
    """Give up on one entry: it is marked DISCARDED and never runs again."""
    from hub import requeue as rq

    ledger = _failed_init(config_file)
    try:
        rq.discard(ledger, entry_id, by="cli")
    except rq.DeadLetterNotFound as exc:
        raise click.ClickException(f"no failed entry {entry_id}") from exc
    except rq.AlreadyResolved as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"discarded {entry_id}")


# -- hub up ------------------------------------------------------------------------------------
def _sandbox_credentials(var_dir: Path) -> dict[str, Any]:
    """The credentials of a --sandbox hub, made once per checkout and kept under var/ (mode
    600), so restarts keep them: the three inbound clients, and what the hub presents to the
    simulated DACS (Basic) and DERMS (an OAuth2 client), as it would in production."""
    credentials_file = var_dir / "sandbox-credentials.json"
    credentials = json.loads(credentials_file.read_text()) if credentials_file.exists() else {}
    changed = False
    for client in ("dacs", "derms", "ops"):
        if client not in credentials:
            credentials[client] = {"username": client, "password": secrets.token_urlsafe(12)}
            changed = True
    if "outbound" not in credentials:  # absent from files written by earlier versions
        credentials["outbound"] = {
            "dacs": {"username": "hub", "password": secrets.token_urlsafe(12)},
            "derms": {"client_id": "hub", "client_secret": secrets.token_urlsafe(12)}}
        changed = True
    if changed:
        var_dir.mkdir(parents=True, exist_ok=True)
        credentials_file.write_text(json.dumps(credentials, indent=2))
        credentials_file.chmod(0o600)
    return credentials


def _sandbox_settings(var_dir: Path, credentials: dict[str, Any]) -> Path:
    """The sandbox's settings file: it requires the hub's outbound credentials."""
    outbound = credentials["outbound"]
    settings_file = var_dir / "sandbox-settings.json"
    settings_file.write_text(json.dumps({
        "dacs_auth": outbound["dacs"],
        "oauth_clients": {outbound["derms"]["client_id"]: outbound["derms"]["client_secret"]},
    }, indent=2))
    settings_file.chmod(0o600)
    return settings_file


def _sandbox_env(credentials: dict[str, Any], env: dict[str, str], sandbox_port: int,
                 mail_port: int) -> dict[str, str]:
    """Defaults for --sandbox: the simulated targets and how to authenticate to them, the mail
    sink, and local credentials. A property set in the environment or the config file wins;
    a DACS or DERMS pointed elsewhere gets no sandbox credentials either."""
    base = f"http://127.0.0.1:{sandbox_port}"
    outbound = credentials["outbound"]
    defaults = {"HUB_SMTP_HOST": "127.0.0.1", "HUB_SMTP_PORT": str(mail_port),
                "HUB_EMAIL_TO": "integration-errors@localhost",
                "HUB_EMAIL_TO_PROCESS_NOTIFICATION": "integration-ops@localhost"}
    targets = {
        "dacs": {"HUB_DACS_BASE_URL": f"{base}/dacs",
                 "HUB_DACS_AUTH_USERNAME": outbound["dacs"]["username"],
                 "HUB_DACS_AUTH_PASSWORD": outbound["dacs"]["password"]},
        "derms": {"HUB_DERMS_BASE_URL": f"{base}/derms",
                  "HUB_DERMS_AUTH_TOKEN_URL": f"{base}/oauth2/token",
                  "HUB_DERMS_AUTH_CLIENT_ID": outbound["derms"]["client_id"],
                  "HUB_DERMS_AUTH_CLIENT_SECRET": outbound["derms"]["client_secret"]},
    }
    for client in ("dacs", "derms", "ops"):
        pair = credentials[client]
        defaults[f"HUB_CLIENTS_{client.upper()}_USERNAME"] = pair["username"]
        defaults[f"HUB_CLIENTS_{client.upper()}_PASSWORD"] = pair["password"]
    config_file = env.get("HUB_CONFIG")
    from_file = {}
    if config_file:
        from hub.config import _read_config_file

        from_file = _read_config_file(Path(config_file))

    def is_set(key: str) -> bool:
        return key in env or key[4:].lower().replace("_", ".") in from_file

    for target, values in targets.items():
        if not is_set(f"HUB_{target.upper()}_BASE_URL"):
            defaults.update(values)
    return {k: v for k, v in defaults.items() if not is_set(k)}


@main.command()
@config_option
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--flower-port", default=5555, show_default=True, type=int,
              help="0 runs no Flower")
@click.option("--sandbox", is_flag=True, help="also run simulated DACS and DERMS and a mail sink")
@click.option("--concurrency", type=int, default=None, help="worker processes")
@click.option("--sandbox-port", default=SANDBOX_PORT, show_default=True, type=int)
@click.option("--mail-port", default=MAIL_PORT, show_default=True, type=int)
def up(config_file: str | None, port: int, flower_port: int, sandbox: bool,
       concurrency: int | None, sandbox_port: int, mail_port: int) -> None:
    """Run the whole hub in the foreground, each part a child process, until Ctrl-C."""
    env = dict(os.environ)
    if config_file:
        env["HUB_CONFIG"] = str(Path(config_file).resolve())
    sandbox_settings: Path | None = None
    if sandbox:
        # Where the sandbox's credentials live: the var dir as the environment says (a var.dir in
        # the config file is not read before the config is loaded).
        sandbox_var = Path(env.get("HUB_VAR_DIR", "var")).resolve()
        credentials = _sandbox_credentials(sandbox_var)
        env.update(_sandbox_env(credentials, env, sandbox_port, mail_port))
        sandbox_settings = _sandbox_settings(sandbox_var, credentials)
    try:
        config = load_config(env=env)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    problems = check_ready(config)
    if problems:
        for name, message in sorted(problems.items()):
            click.echo(f"{name}: {message}", err=True)
        raise click.ClickException("fix the config (hub config check), or use --sandbox")
    # A fresh start for the metrics files of the processes about to start (Prometheus takes the
    # counters' drop as a restart). Only here: the parts started alone share the folder as is.
    shutil.rmtree(config.var_dir / "metrics", ignore_errors=True)
    me = [sys.executable, "-m", "hub.cli"]
    parts: dict[str, list[str]] = {}
    if sandbox_settings is not None:
        parts["sandbox"] = me + ["sandbox", "--port", str(sandbox_port),
                                 "--settings", str(sandbox_settings)]
        parts["mailsink"] = me + ["mailsink", "--port", str(mail_port),
                                  "--dir", str(config.var_dir / "mail")]
    parts["web"] = me + ["web", "--port", str(port)]
    parts["worker"] = me + ["worker"] + ([f"--concurrency={concurrency}"] if concurrency else [])
    parts["beat"] = me + ["beat"]
    if flower_port:
        parts["flower"] = me + ["flower", "--port", str(flower_port)]
    _supervise(parts, env, lambda: _banner(config, port, flower_port, sandbox, sandbox_port,
                                           mail_port))


def _banner(config: Any, port: int, flower_port: int, sandbox: bool, sandbox_port: int,
            mail_port: int) -> None:
    lines = [
        "", "The hub is up.",
        f"  front door   http://localhost:{port}  (API docs: /api/v1/docs, ops pages: /ops)",
        f"  Flower       http://localhost:{flower_port}" if flower_port else "  Flower       off",
        f"  DACS         {config['dacs.base.url']}", f"  DERMS        {config['derms.base.url']}",
    ]
    if sandbox:
        lines += [f"  mail sink    smtp://127.0.0.1:{mail_port} -> {config.var_dir / 'mail'}",
                  f"  sandbox control  http://127.0.0.1:{sandbox_port}/_sandbox/state"]
    lines += [f"  ledger       {_mask(config.database_url)}",
              f"  broker       {_mask(config.broker_url)}", "", "Credentials (Basic auth):"]
    for client in ("dacs", "derms", "ops"):
        user = config.get(f"clients.{client}.username")
        if user:
            # The one place a password is printed: to the operator's own terminal, at start.
            lines.append(f"  {client:6s} {user}:{config.get(f'clients.{client}.password')}")
    lines += ["", "Ctrl-C stops everything.", ""]
    click.echo("\n".join(lines))


def _mask(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return url.replace(f":{parts.password}@", ":***@") if parts.password else url


def _supervise(parts: dict[str, list[str]], env: dict[str, str], on_started: Any) -> None:
    children: dict[str, subprocess.Popen[bytes]] = {}
    stopping = threading.Event()

    def start(name: str) -> None:
        children[name] = subprocess.Popen(parts[name], env=env, start_new_session=True)

    def stop(*_: Any) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    for name in parts:
        start(name)
        if name in {"sandbox", "mailsink"}:
            time.sleep(0.5)  # the targets first, so the first requests find them
    on_started()
    try:
        while not stopping.wait(0.5):
            for name, child in list(children.items()):
                code = child.poll()
                if code is not None:
                    click.echo(f"[hub up] {name} exited with {code}; restarting it", err=True)
                    time.sleep(1)
                    start(name)
    finally:
        for child in children.values():
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for child in children.values():
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
        click.echo("[hub up] stopped")


if __name__ == "__main__":
    main()
