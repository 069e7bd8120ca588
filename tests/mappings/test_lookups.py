"""The value lookups (mappings/lookups.py) and the _Routing of DERMS instances to DACS targets."""

from __future__ import annotations

from pathlib import Path

import pytest

import support
from hub.runtime import Runtime
from mappings import lookups


def test_every_packaged_lookup_loads_with_the_contract_values() -> None:
    tables = lookups.load(None)
    assert {name: len(tables[name]) > 0 for name in lookups.NAMES} == \
        dict.fromkeys(lookups.NAMES, True)
    assert {k: tables.map("EventType", k) for k in tables["EventType"]} == {
        "ECONOMIC": "X1EC", "EMERGENCY": "X1EM", "RELIABILITY": "X1RE", "DEVICE_TEST": "X1DT"}
    assert tables["EventType"].domains == ("DERMS_EventType", "DACS_ProgramEventType")
    assert tables.dacs_base_url("DERMS1") is None  # the marker: dacs.base.url
    assert lookups.load(None) is tables            # read once per process


def test_keys_match_case_insensitively_and_unknown_keys_raise() -> None:
    event_type = lookups.load(None)["EventType"]
    assert event_type.get(" economic ") == "X1EC" and "Emergency" in event_type
    assert event_type.get("PEAK") is None and event_type.get(None, "d") == "d"
    with pytest.raises(lookups.UnmappedValue) as caught:
        event_type.map("PEAK", "eventType")
    assert str(caught.value) == "eventType 'PEAK' has no row in lookup _EventType"


def test_site_folder_takes_oracle_names_banner_comments_and_extra_columns(tmp_path: Path) -> None:
    (tmp_path / "OUTL-BRT-DACS_DRMS_EventType.csv").write_text(
        "\ufeffDVM,OUTL-BRT-DACS_DRMS_EventType\n"
        "DERMS,DACS,Comment\n"
        "# a comment line\n"
        "\n"
        "ECONOMIC,Z1EC,priced\n")
    tables = lookups.Lookups(tmp_path)
    assert tables.map("EventType", "ECONOMIC") == "Z1EC"
    assert "EMERGENCY" not in tables["EventType"]   # a site file replaces the lookup as a whole
    assert tables["EventType"].source.name == "OUTL-BRT-DACS_DRMS_EventType.csv"
    assert tables.map("AssetType", "THERMOSTAT") == "THERMOSTAT"  # the rest stay packaged


@pytest.mark.parametrize("text,error", [
    ("DERMS,DACS\nA,1\na,2\n", "given twice"),
    ("DERMS,DACS\n", "no rows"),
    ("ONLYONE\nA\n", "header row"),
    ("DERMS,DACS\nA\n", ":2: lookup _EventType: expected key,value"),
])
def test_malformed_site_lookups_are_refused_naming_file_and_line(
        tmp_path: Path, text: str, error: str) -> None:
    (tmp_path / "EventType.csv").write_text(text)
    with pytest.raises(lookups.LookupFileError) as caught:
        lookups.Lookups(tmp_path)
    assert "EventType.csv" in str(caught.value) and error in str(caught.value)


def test_routing_values_must_be_urls_or_the_marker(tmp_path: Path) -> None:
    (tmp_path / "Routing.csv").write_text("drmsInstanceId,DACS\nDERMS2,dacs-two.example\n")
    with pytest.raises(lookups.LookupFileError) as caught:
        lookups.Lookups(tmp_path)
    assert "DERMS2" in str(caught.value)


def test_runtime_routes_each_instance_to_its_dacs(tmp_path: Path) -> None:
    (tmp_path / "Routing.csv").write_text(
        "drmsInstanceId,DACS\nDERMS1,dacs.base.url\nDERMS2,http://127.0.0.1:9/dacs-two/\n")
    config = support.make_config({
        **support.door_overrides(tmp_path / "var"), "lookups.dir": str(tmp_path),
        "dacs.auth.username": "hub", "dacs.auth.password": "pw",
        "dacs.path.enroll": "/custom/enroll"})
    rt = Runtime(config)
    assert rt.dacs_for("DERMS1") is rt.dacs and rt.dacs_for(None) is rt.dacs
    two = rt.dacs_for("DERMS2")
    assert two is not rt.dacs and two is rt.dacs_for("derms2")   # one target per URL
    assert two.url("enroll") == "http://127.0.0.1:9/dacs-two/custom/enroll"
    assert two.basic == ("hub", "pw") and two.timeout == rt.dacs.timeout
    with pytest.raises(lookups.UnknownInstance) as caught:
        rt.dacs_for("DERMS3")
    assert caught.value.field == "drmsInstanceId"
    rt.after_fork()
    assert rt.dacs_for("DERMS2") is not two   # a forked child builds its own sessions


def test_a_bad_lookups_dir_stops_the_start_naming_the_property(tmp_path: Path) -> None:
    from hub import runtime
    from hub.config import ConfigError, check_ready

    (tmp_path / "Routing.csv").write_text(
        "drmsInstanceId,DACS\nDERMS1,dacs.base.url\nderms1,dacs.base.url\n")
    missing = tmp_path / "no-such-folder"
    with pytest.raises(lookups.LookupFileError, match="does not exist"):
        lookups.Lookups(missing)
    for folder, error in ((missing, "does not exist"), (tmp_path, "given twice")):
        config = support.make_config({**support.door_overrides(tmp_path / "var"),
                                      "lookups.dir": str(folder)})
        before = runtime._current
        with pytest.raises(ConfigError) as caught:
            runtime.init(config)
        assert error in caught.value.problems["lookups.dir"]
        assert runtime._current is before            # nothing was switched over
        assert error in check_ready(config)["lookups.dir"]   # and `hub config check` says so
