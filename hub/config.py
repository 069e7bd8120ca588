"""The hub's configuration: read in one place, validated at start.

Sources, lowest to highest precedence (the contract's rule):

1. the defaults declared in :data:`PROPERTIES`;
2. OIC lookup exports (``OUTL-BRT-DACS_DRMS_ConfigProps`` and ``..._Email_ID`` CSVs), so a site
   moving off Oracle Integration Cloud can load its files unchanged;
3. the config file (``key = value`` lines, the property names as Oracle spells them);
4. ``HUB_*`` environment variables: ``HUB_`` plus the property upper-cased, ``.`` and ``-`` -> ``_``.

Nothing here reads the environment at import time: :func:`load_config` takes the environment as an
argument, and tests pass a dict.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "Config",
    "ConfigError",
    "PROPERTIES",
    "env_name",
    "load_config",
    "read_lookup_csv",
]


class ConfigError(Exception):
    """One or more properties are bad or missing; ``problems`` maps property -> message."""

    def __init__(self, problems: Mapping[str, str]):
        self.problems = dict(problems)
        lines = [f"{name}: {msg}" for name, msg in sorted(self.problems.items())]
        super().__init__("invalid configuration:\n  " + "\n  ".join(lines))


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "y", "on"}:
        return True
    if text in {"0", "false", "no", "n", "off", ""}:
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def _int(value: Any) -> int:
    return int(str(value).strip())


def _pos_int(value: Any) -> int:
    number = _int(value)
    if number <= 0:
        raise ValueError(f"must be a positive whole number, got {value!r}")
    return number


def _float(value: Any) -> float:
    number = float(str(value).strip())
    if number <= 0:
        raise ValueError(f"must be positive, got {value!r}")
    return number


def _str(value: Any) -> str:
    return str(value).strip()


def _url(value: Any) -> str:
    text = str(value).strip()
    parts = urlsplit(text)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ValueError(f"must be an http(s) URL, got {text!r}")
    return text.rstrip("/")


def _choice(*choices: str) -> Callable[[Any], str]:
    def coerce(value: Any) -> str:
        text = str(value).strip().lower()
        if text not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}, got {value!r}")
        return text

    return coerce


def _cron(value: Any) -> str:
    """A 5-field cron expression, checked field by field as Beat will read it; or ``off``."""
    text = " ".join(str(value).split())
    if text.lower() in ("off", "none", "disabled"):
        return "off"
    fields = text.split(" ")
    if len(fields) != 5:
        raise ValueError(f"must be a 5-field cron expression or off, got {value!r}")
    from celery.schedules import crontab

    minute, hour, day_of_month, month_of_year, day_of_week = fields
    try:
        crontab(minute=minute, hour=hour, day_of_month=day_of_month,
                month_of_year=month_of_year, day_of_week=day_of_week)
    except ValueError as exc:
        raise ValueError(f"not a valid cron expression {text!r}: {exc}") from exc
    return text


def _emails(value: Any) -> str:
    text = str(value).strip()
    for address in re.split(r"[,;]", text):
        if address.strip() and "@" not in address:
            raise ValueError(f"not an email address: {address.strip()!r}")
    return text


@dataclass(frozen=True)
class Prop:
    """One property: how to coerce it, its default, and whether it is a secret."""

    coerce: Callable[[Any], Any] = _str
    default: Any = None
    secret: bool = False
    doc: str = ""


_DACS_PATHS = {
    "health_check": "/rest/apis/common/healthCheck",
    "enroll": "/rest/apis/cross/digitalAssets/programEnrollments/enroll",
    "device_status_response": "/rest/apis/cross/digitalAssets/controllableDeviceStatus/response",
    "create_program_event": "/rest/apis/cross/service/programEvent/",
    "action_program_event": "/rest/apis/cross/service/programEvent/lifecycle",
    "reserve_device": "/rest/apis/cross/service/programEventParticipation/reserveDevice",
    "post_event_outcome": "/rest/apis/cross/service/programEventParticipation/postEventOutcome",
    "sync_request_update": "/rest/apis/common/sync/syncRequest/{syncRequestId}",
}
_DERMS_PATHS = {
    "enroll": "/enroll",
    "status_check": "/status_check",
    "event_opt_out": "/event-opt-out",
    "update_program": "/update-program",
    "update_aggregator": "/update-aggregator",
    "device_score": "/device-score",
    "event_reservation_ack": "/event-reservation-ack",
    "event_outcome_ack": "/event-outcome-ack",
}

#: Every property the hub knows, by its (Oracle or hub) name.
PROPERTIES: dict[str, Prop] = {
    # -- the hub's own ------------------------------------------------------------------------
    "var.dir": Prop(_str, "var", doc="where the embedded defaults keep their files"),
    "broker.url": Prop(_str, None, secret=True, doc="Celery broker; embedded folder by default"),
    "result.backend": Prop(_str, None, secret=True, doc="Celery results; SQLite by default"),
    "broker.key.prefix": Prop(_str, None, doc="prefix of the hub's keys on a shared Redis"),
    "database.url": Prop(_str, None, secret=True, doc="the ledger; SQLite under var/ by default"),
    "staging.url": Prop(_str, None, doc="accepted files: a folder or s3://bucket/prefix"),
    "lookups.dir": Prop(_str, None, doc="folder of site-edited value lookups (_EventType, "
                        "_AssetType, _Routing ...) replacing the packaged ones"),
    "hub.public.url": Prop(_str, "http://localhost:8080", doc="links in emails point here"),
    "dacs.base.url": Prop(_url, None, doc="DACS base URL, may carry a path prefix"),
    "derms.base.url": Prop(_url, None, doc="DERMS base URL, may carry a path prefix"),
    "sync.timeout.seconds": Prop(_float, 60.0),
    "dacs.file.segment.size": Prop(_pos_int, 1000),
    "dacs.file.segment.deadline.seconds": Prop(
        _pos_int, 600, doc="a file job whose segments made no progress for this long has its "
                           "pending segments re-enqueued by the reconciler"),
    "staging.s3.endpoint.url": Prop(_str, None, doc="S3-compatible endpoint of an s3:// "
                                                   "staging.url (default: AWS)"),
    "staging.s3.region": Prop(_str, None, doc="region of an s3:// staging.url"),
    "staging.s3.access.key.id": Prop(_str, None, doc="access key id of an s3:// staging.url "
                                                    "(default: boto3's credential chain)"),
    "staging.s3.secret.access.key": Prop(_str, None, secret=True,
                                         doc="secret key of an s3:// staging.url"),
    "staging.retention.days": Prop(_pos_int, 7, doc="staged files are deleted this long after "
                                                   "upload, unless their job still runs, or failed "
                                                   "and has an open dead letter"),
    "ledger.retention.days": Prop(_pos_int, 30, doc="finished jobs, their segments and timeline, "
                                                   "and resolved dead letters are deleted after "
                                                   "this long"),
    "http.timeout.seconds": Prop(_float, 30.0),
    "http.retry.max": Prop(_int, 5),
    "http.retry.backoff.seconds": Prop(_float, 1.0, doc="first retry delay; doubles each time"),
    "http.retry.backoff.max.seconds": Prop(_float, 60.0, doc="cap of the retry backoff"),
    "upload.max.bytes": Prop(_pos_int, 1024**3),
    "device.score.schedule": Prop(_cron, "*/15 * * * *"),
    "worker.concurrency": Prop(_pos_int, 2),
    "task.time.limit.seconds": Prop(_pos_int, 600, doc="hard time limit of any task"),
    "mail.retry.max": Prop(_int, 5),
    "smtp.host": Prop(_str, "localhost"),
    "smtp.port": Prop(_pos_int, 25),
    "smtp.username": Prop(_str, None),
    "smtp.password": Prop(_str, None, secret=True),
    "smtp.starttls": Prop(_bool, False),
    "smtp.ssl": Prop(_bool, False),
    # -- inbound credentials, per client ------------------------------------------------------
    **{
        f"clients.{client}.{key}": Prop(_str, None, secret=key != "username")
        for client in ("dacs", "derms", "ops")
        for key in ("username", "password", "token")
    },
    # -- outbound credentials, per target -----------------------------------------------------
    **{
        f"{target}.auth.{key}": Prop(_url if key == "token.url" else _str, None,
                                     secret=key in {"password", "client.secret"})
        for target in ("dacs", "derms")
        for key in ("username", "password", "token.url", "client.id", "client.secret", "scope")
    },
    # -- outbound paths, overridable because sites differ -------------------------------------
    **{f"dacs.path.{op}": Prop(_str, path) for op, path in _DACS_PATHS.items()},
    **{f"derms.path.{op}": Prop(_str, path) for op, path in _DERMS_PATHS.items()},
    # -- Oracle's ConfigProps -----------------------------------------------------------------
    "dacs.file.target.transfer.pref": Prop(_choice("os", "ftp"), "ftp"),
    "dacs.ftp.url": Prop(_str, None),
    "dacs.ftp.password": Prop(_str, None, secret=True),
    "dacs.ftp.private.key.file": Prop(_str, None),
    "dacs.ftp.known.hosts.file": Prop(_str, "~/.ssh/known_hosts"),
    "dacs.os.namespace": Prop(_str, None),
    "dacs.os.region": Prop(_str, None),
    "dacs.os.endpoint.url": Prop(_str, None, doc="default: the OCI S3 compatibility URL"),
    "dacs.os.access.key.id": Prop(_str, None),
    "dacs.os.secret.access.key": Prop(_str, None, secret=True),
    "dacs.spNtwkLoc.ftp.input.directory": Prop(_str, None),
    "dacs.spNtwkLoc.os.bucketname": Prop(_str, None),
    "dacs.dvcScore.ftp.input.directory": Prop(_str, None),
    "dacs.os.dvcScore.bucketname": Prop(_str, None),
    "dacs.dvcScore.extract.filename.prefix": Prop(_str, "DeviceScore"),
    "dacs.prefixtag.fileuploaded": Prop(_str, "Sent-"),
    "dacs.prefixtag.filenotuploaded": Prop(_str, "Error-"),
    "device.score.min.age.seconds": Prop(_int, 30, doc="a file younger than this is not taken"),
    "notification.email.error.flag": Prop(_bool, True),
    "notification.type.email": Prop(_str, "email"),
    "notification.email.process.nofile.flag": Prop(_bool, False),
    "notification.email.process.complete.flag": Prop(_bool, True),
    # -- Oracle's Email_ID lookup -------------------------------------------------------------
    "email.to": Prop(_emails, None),
    "email.from": Prop(_emails, "hub@localhost"),
    "email.to.process.notification": Prop(_emails, None),
}

_MEANINGS = {
    "sync.timeout.seconds": "how long the door waits for a synchronous flow before 504",
    "dacs.file.segment.size": "rows per file segment posted to DACS",
    "http.timeout.seconds": "connect+read timeout of each outbound call",
    "http.retry.max": "retries of a transient outbound error (5xx, 429, timeout)",
    "upload.max.bytes": "largest accepted request body; larger gets 413",
    "device.score.schedule": "cron (UTC) of the Device Score transfer, or off (no scheduled "
                             "run; run-now still works)",
    "worker.concurrency": "worker processes started by hub worker / hub up",
    "mail.retry.max": "retries of a transient SMTP error",
    "smtp.host": "mail relay host", "smtp.port": "mail relay port",
    "smtp.username": "mail relay login (optional)", "smtp.password": "mail relay password",
    "smtp.starttls": "upgrade the relay connection with STARTTLS (certificate verified)",
    "smtp.ssl": "connect to the relay over TLS from the start (port 465)",
    "dacs.file.target.transfer.pref": "where SP Network Location files go: ftp or os",
    "dacs.ftp.url": "DACS file server: sftp://user@host:22/dir, ftp://... or ftps://...",
    "dacs.ftp.password": "file server password (SFTP: or use a private key)",
    "dacs.ftp.private.key.file": "SFTP private key file",
    "dacs.ftp.known.hosts.file": "host keys SFTP trusts; an unknown or changed key is refused",
    "dacs.os.namespace": "OCI Object Storage namespace",
    "dacs.os.region": "object storage region",
    "dacs.os.access.key.id": "S3-compatible access key id",
    "dacs.os.secret.access.key": "S3-compatible secret key",
    "dacs.spNtwkLoc.ftp.input.directory": "SP Network Location target directory (ftp)",
    "dacs.spNtwkLoc.os.bucketname": "SP Network Location target bucket (os)",
    "dacs.dvcScore.ftp.input.directory": "Device Score source directory (ftp)",
    "dacs.os.dvcScore.bucketname": "Device Score source bucket (os)",
    "dacs.dvcScore.extract.filename.prefix": "Device Score files start with this",
    "dacs.prefixtag.fileuploaded": "prefix given to a Device Score file once sent",
    "dacs.prefixtag.filenotuploaded": "prefix given to a Device Score file that failed",
    "notification.email.error.flag": "send the error email",
    "notification.type.email": "must be `email` for the error email to be sent",
    "notification.email.process.nofile.flag": "send the no-file email (Device Score)",
    "notification.email.process.complete.flag": "send the process-complete email",
    "email.to": "error email recipients (Email_ID `to`), comma-separated",
    "email.from": "sender of every email (Email_ID `from`)",
    "email.to.process.notification": "process-complete recipients (Email_ID "
                                     "`to.process.notification`)",
}
for _client in ("dacs", "derms", "ops"):
    _MEANINGS[f"clients.{_client}.username"] = f"Basic auth user of the {_client} client"
    _MEANINGS[f"clients.{_client}.password"] = f"Basic auth password of the {_client} client"
    _MEANINGS[f"clients.{_client}.token"] = f"Bearer token of the {_client} client (instead of, or " \
                                           "as well as, Basic)"
for _target in ("dacs", "derms"):
    _MEANINGS[f"{_target}.auth.username"] = f"Basic auth user for calls to {_target.upper()}"
    _MEANINGS[f"{_target}.auth.password"] = f"Basic auth password for calls to {_target.upper()}"
    _MEANINGS[f"{_target}.auth.token.url"] = "OAuth2 client-credentials token endpoint"
    _MEANINGS[f"{_target}.auth.client.id"] = "OAuth2 client id"
    _MEANINGS[f"{_target}.auth.client.secret"] = "OAuth2 client secret"
    _MEANINGS[f"{_target}.auth.scope"] = "OAuth2 scope (optional)"
for _name in list(PROPERTIES):
    if _name.startswith(("dacs.path.", "derms.path.")):
        _MEANINGS[_name] = "path of the `" + _name.split(".")[2] + "` call, joined to the base URL"
for _name, _meaning in _MEANINGS.items():
    PROPERTIES[_name] = replace(PROPERTIES[_name], doc=_meaning)

# Oracle's own spellings for the same thing, as they appear in OIC exports and the guide.
_ALIASES = {
    "to": "email.to",
    "from": "email.from",
    "to.process.notification": "email.to.process.notification",
    "dacs.to.process.notification": "email.to.process.notification",
    "to.processnotification": "email.to.process.notification",
}


def env_name(prop: str) -> str:
    """The environment variable that overrides ``prop`` (``dacs.base.url`` -> ``HUB_DACS_BASE_URL``)."""
    return "HUB_" + re.sub(r"[.\-]", "_", prop).upper()


def read_lookup_csv(path: str | Path) -> dict[str, str]:
    """Read an OIC lookup export (or any two-column name,value CSV) into a dict.

    OIC exports start with a header row naming the lookup's domains; the first column holds the
    key and the second the value. A row whose key is empty is skipped.
    """
    result: dict[str, str] = {}
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        rows = list(reader)
    if not rows:
        return result
    header = [cell.strip().lower() for cell in rows[0]]
    # A header row is one that does not itself look like a property row.
    start = 1 if header and (header[0] in {"key", "name", "property", "propertyname", "dvm"}
                             or not any("." in cell for cell in header[:1])) else 0
    for row in rows[start:]:
        if len(row) >= 2 and row[0].strip():
            result[row[0].strip()] = row[1].strip()
    return result


def _read_config_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(("#", ";", "!")):
            continue
        sep = min((i for i in (line.find("="), line.find(":")) if i > 0), default=-1)
        if sep < 0:
            raise ConfigError({f"{path}:{number}": "expected 'name = value'"})
        values[line[:sep].strip()] = line[sep + 1:].strip()
    return values


@dataclass(frozen=True)
class Config:
    """Validated, typed configuration. Read values with ``config["dacs.base.url"]``."""

    values: Mapping[str, Any]
    sources: Mapping[str, str] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def get(self, name: str, default: Any = None) -> Any:
        value = self.values.get(name)
        return default if value is None else value

    @property
    def var_dir(self) -> Path:
        return Path(self.values["var.dir"]).expanduser().resolve()

    @property
    def broker_url(self) -> str:
        # The host is a placeholder (the folders are set in the transport options); naming one
        # keeps kombu from warning "No hostname was supplied" on every connection.
        return self.values["broker.url"] or "filesystem://localhost//"

    @property
    def embedded_broker(self) -> bool:
        return self.broker_url.startswith("filesystem://")

    @property
    def result_backend(self) -> str:
        return self.values["result.backend"] or f"db+sqlite:///{self.var_dir / 'results.sqlite'}"

    @property
    def database_url(self) -> str:
        return self.values["database.url"] or f"sqlite:///{self.var_dir / 'ledger.sqlite'}"

    @property
    def staging_url(self) -> str:
        return self.values["staging.url"] or str(self.var_dir / "staging")

    def secrets(self) -> list[str]:
        """Every configured secret value, for redaction in logs and emails."""
        found = [str(v) for k, v in self.values.items() if v and PROPERTIES[k].secret]
        # URLs may carry a password in their userinfo; the secret is that part.
        for key in ("broker.url", "result.backend", "database.url"):
            password = urlsplit(str(self.values.get(key) or "")).password
            if password:
                found.append(password)
        return found

    def public(self) -> dict[str, Any]:
        """The values with secrets masked: safe to print or show on a page."""
        return {k: ("***" if v and PROPERTIES[k].secret else v) for k, v in self.values.items()}


def load_config(
    path: str | Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    lookups: Iterable[str | Path] = (),
) -> Config:
    """Load, merge and validate the configuration; raise :class:`ConfigError` naming every problem.

    ``env`` defaults to ``os.environ`` read now (never at import). ``HUB_CONFIG`` in it names the
    config file when ``path`` is not given, and ``HUB_LOOKUPS`` (``os.pathsep``-separated) names
    OIC lookup CSV exports to import. ``overrides`` wins over everything: tests pass a dict here.
    """
    env = os.environ if env is None else env
    raw: dict[str, Any] = {}
    sources: dict[str, str] = {}
    problems: dict[str, str] = {}

    def take(values: Mapping[str, Any], source: str) -> None:
        for key, value in values.items():
            name = _ALIASES.get(key, key)
            if name not in PROPERTIES:
                problems[key] = f"unknown property (from {source})"
                continue
            raw[name] = value
            sources[name] = source

    lookup_files = [*lookups]
    if env.get("HUB_LOOKUPS"):
        lookup_files += [p for p in env["HUB_LOOKUPS"].split(os.pathsep) if p]
    for lookup in lookup_files:
        try:
            take(read_lookup_csv(lookup), f"lookup {Path(lookup).name}")
        except OSError as exc:
            problems[str(lookup)] = f"cannot read lookup file: {exc.strerror}"

    path = path or env.get("HUB_CONFIG")
    if path:
        config_path = Path(path).expanduser()
        try:
            take(_read_config_file(config_path), f"file {config_path.name}")
        except OSError as exc:
            problems[str(config_path)] = f"cannot read config file: {exc.strerror}"

    by_env = {env_name(name): name for name in PROPERTIES}
    take({by_env[k]: v for k, v in env.items() if k in by_env}, "environment")
    if overrides:
        take(overrides, "overrides")

    values: dict[str, Any] = {}
    for name, prop in PROPERTIES.items():
        value = raw.get(name, prop.default)
        if value is None or (isinstance(value, str) and value.strip() == "" and prop.default is None):
            values[name] = None
            continue
        try:
            values[name] = prop.coerce(value)
        except (TypeError, ValueError) as exc:
            problems[name] = str(exc)
    _check_combinations(values, problems)
    if problems:
        raise ConfigError(problems)
    return Config(values=values, sources=sources)


def _check_combinations(values: Mapping[str, Any], problems: dict[str, str]) -> None:
    for client in ("dacs", "derms", "ops"):
        user, password = values[f"clients.{client}.username"], values[f"clients.{client}.password"]
        if bool(user) != bool(password):
            missing = f"clients.{client}.password" if user else f"clients.{client}.username"
            problems[missing] = "username and password go together"
    for target in ("dacs", "derms"):
        oauth = [values[f"{target}.auth.{k}"] for k in ("token.url", "client.id", "client.secret")]
        if any(oauth) and not all(oauth):
            for key, value in zip(("token.url", "client.id", "client.secret"), oauth, strict=True):
                if not value:
                    problems[f"{target}.auth.{key}"] = "OAuth2 needs token.url, client.id and client.secret"
    if values["smtp.starttls"] and values["smtp.ssl"]:
        problems["smtp.ssl"] = "smtp.ssl (TLS from the start) and smtp.starttls exclude each other"
    if values["http.retry.max"] < 0:
        problems["http.retry.max"] = "must be 0 or more"


def check_ready(config: Config) -> dict[str, str]:
    """Problems that stop the hub from serving traffic (used by ``hub config check``)."""
    problems: dict[str, str] = {}
    for name in ("dacs.base.url", "derms.base.url"):
        if not config.get(name):
            problems[name] = "missing (hub up --sandbox sets it to the simulated system)"
    for client in ("dacs", "derms", "ops"):
        if not (config.get(f"clients.{client}.password") or config.get(f"clients.{client}.token")):
            problems[f"clients.{client}.password"] = "missing: give a password or a token"
    if config.get("notification.email.error.flag") and not config.get("email.to"):
        problems["email.to"] = "missing: the error email has no recipient"
    from mappings.lookups import LookupFileError, load

    try:
        load(config.get("lookups.dir"))
    except LookupFileError as exc:
        problems["lookups.dir"] = str(exc)
    return problems
