from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hub.config import ConfigError, check_ready, env_name, load_config, read_lookup_csv


def test_defaults_are_the_contracts() -> None:
    config = load_config(env={})
    assert config["sync.timeout.seconds"] == 60
    assert config["dacs.file.segment.size"] == 1000
    assert config["http.timeout.seconds"] == 30 and config["http.retry.max"] == 5
    assert config["upload.max.bytes"] == 1024**3
    assert config["device.score.schedule"] == "*/15 * * * *"
    assert config["smtp.host"] == "localhost" and config["smtp.port"] == 25
    assert config["dacs.prefixtag.fileuploaded"] == "Sent-"
    assert config["dacs.prefixtag.filenotuploaded"] == "Error-"
    assert config.embedded_broker
    assert config.database_url.startswith("sqlite:///") and config.database_url.endswith("ledger.sqlite")


def test_env_name_rule() -> None:
    assert env_name("dacs.base.url") == "HUB_DACS_BASE_URL"
    assert env_name("dacs.spNtwkLoc.os.bucketname") == "HUB_DACS_SPNTWKLOC_OS_BUCKETNAME"
    assert env_name("OUTL-BRT.x") == "HUB_OUTL_BRT_X"


def test_precedence_env_over_file_over_lookup_over_default(tmp_path: Path) -> None:
    lookup = tmp_path / "OUTL-BRT-DACS_DRMS_ConfigProps.csv"
    lookup.write_text("Key,Value\ndacs.prefixtag.fileuploaded,Done-\nsync.timeout.seconds,10\n"
                      "dacs.dvcScore.extract.filename.prefix,SCORE\n")
    conf = tmp_path / "hub.conf"
    conf.write_text("# comment\nsync.timeout.seconds = 20\ndacs.base.url = https://dacs.example/p/\n")
    config = load_config(conf, env={"HUB_SYNC_TIMEOUT_SECONDS": "30"}, lookups=[lookup])
    assert config["sync.timeout.seconds"] == 30                      # env wins
    assert config["dacs.base.url"] == "https://dacs.example/p"       # file, trailing / dropped
    assert config["dacs.prefixtag.fileuploaded"] == "Done-"          # lookup over default
    assert config["dacs.dvcScore.extract.filename.prefix"] == "SCORE"
    assert config.sources["sync.timeout.seconds"] == "environment"


def test_email_id_lookup_uses_oracle_names(tmp_path: Path) -> None:
    lookup = tmp_path / "OUTL-BRT-DACS_DRMS_Email_ID.csv"
    lookup.write_text("Name,Value\nto,ops@utility.test\nfrom,oic@utility.test\n"
                      "to.process.notification,batch@utility.test\n")
    config = load_config(env={"HUB_LOOKUPS": str(lookup)})
    assert config["email.to"] == "ops@utility.test"
    assert config["email.from"] == "oic@utility.test"
    assert config["email.to.process.notification"] == "batch@utility.test"
    assert read_lookup_csv(lookup)["to"] == "ops@utility.test"


def test_every_bad_property_is_named() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(env={"HUB_SYNC_TIMEOUT_SECONDS": "soon", "HUB_DACS_BASE_URL": "ftp://x",
                         "HUB_DACS_FILE_TARGET_TRANSFER_PREF": "s3",
                         "HUB_DEVICE_SCORE_SCHEDULE": "every minute",
                         "HUB_SMTP_STARTTLS": "true", "HUB_SMTP_SSL": "yes"},
                    overrides={"no.such.property": "1", "clients.ops.username": "ops"})
    problems = caught.value.problems
    assert set(problems) >= {"sync.timeout.seconds", "dacs.base.url",
                             "dacs.file.target.transfer.pref", "device.score.schedule",
                             "no.such.property", "clients.ops.password", "smtp.ssl"}
    assert "http(s) URL" in problems["dacs.base.url"]


def test_secrets_are_masked_in_public_view() -> None:
    config = load_config(env={}, overrides={"smtp.password": "s3cret!", "clients.ops.username": "o",
                                            "clients.ops.password": "pw-ops",
                                            "broker.url": "redis://:brokerpw@localhost:6379/0"})
    public = config.public()
    assert public["smtp.password"] == "***" and public["clients.ops.password"] == "***"
    assert "s3cret!" in config.secrets() and "brokerpw" in config.secrets()
    assert "s3cret!" not in repr(public)


def test_check_ready_names_missing_targets_and_credentials() -> None:
    problems = check_ready(load_config(env={}))
    assert {"dacs.base.url", "derms.base.url", "clients.dacs.password"} <= set(problems)


def test_hub_config_check_command_exit_codes(tmp_path: Path) -> None:
    bad = tmp_path / "bad.conf"
    bad.write_text("sync.timeout.seconds = never\n")
    run = subprocess.run([sys.executable, "-m", "hub.cli", "config", "check", "--config", str(bad)],
                         capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    assert run.returncode == 1
    assert "sync.timeout.seconds" in run.stderr
    good = tmp_path / "good.conf"
    good.write_text("dacs.base.url = http://dacs.test\nderms.base.url = http://derms.test\n"
                    "email.to = a@b.c\n" + "".join(
                        f"clients.{c}.username = {c}\nclients.{c}.password = pw-{c}\n"
                        for c in ("dacs", "derms", "ops")))
    run = subprocess.run([sys.executable, "-m", "hub.cli", "config", "check", "--config", str(good)],
                         capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run.stderr
    assert "config OK" in run.stdout
