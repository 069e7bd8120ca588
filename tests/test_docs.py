"""The docs keep up with the code."""

from __future__ import annotations

from pathlib import Path

from hub.config import PROPERTIES, env_name

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_every_property_is_documented_with_its_environment_name() -> None:
    text = (DOCS / "configuration.md").read_text()
    missing = [name for name in PROPERTIES
               if f"`{name}`" not in text or f"`{env_name(name)}`" not in text]
    assert missing == []


def test_configuration_tables_match_the_code() -> None:
    from click.testing import CliRunner

    from hub.cli import main

    table = CliRunner().invoke(main, ["config", "table"]).output
    assert table.strip() in (DOCS / "configuration.md").read_text(), \
        "regenerate with: hub config table (see docs/configuration.md)"
