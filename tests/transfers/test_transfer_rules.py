"""The pure rules of the transfer flows: message schemas, remote names and directories, which
Device Score files a run takes, and where SP Network Location files go."""

from __future__ import annotations

from typing import Any

import pytest
from marshmallow import ValidationError

import support
from hub.transfers import Destination
from hub.transports import Entry
from mappings import device_score, sp_network_location
from mappings.common_transfers import FtpTransferSchema, OsTransferSchema, check_remote_directory
from mappings.device_score import DeviceScoreRunSchema, claim_key, eligible, tagged


def errors_of(schema: Any, data: dict[str, Any]) -> dict[str, Any]:
    with pytest.raises(ValidationError) as caught:
        schema().load(data)
    return caught.value.messages  # type: ignore[return-value]


# -- remote directories and names -------------------------------------------------------------

@pytest.mark.parametrize("directory", ["", "in", "/u01/dacs/in", "in/score/", "a//b", "Score 1"])
def test_plain_remote_directories_are_accepted(directory: str) -> None:
    assert check_remote_directory(directory) == directory


@pytest.mark.parametrize("directory", ["..", "../etc", "in/../../etc", "/u01/..", "in/./x", ".",
                                       "in\\x", "in\r\nDELE x", "~root/x", "in/~", " in",
                                       "x" * 1025])
def test_climbing_or_injecting_directories_are_refused(directory: str) -> None:
    with pytest.raises(ValidationError):
        check_remote_directory(directory)


def test_ftp_transfer_message_refuses_a_path_as_file_name() -> None:
    messages = errors_of(FtpTransferSchema, {"directory": "in", "fileName": "../../etc/passwd"})
    assert list(messages) == ["fileName"]
    assert "not a plain file name" in messages["fileName"][0]
    assert FtpTransferSchema().load({"directory": "in", "fileName": "SPNL_1.csv"}) == {
        "directory": "in", "fileName": "SPNL_1.csv"}


def test_ftp_transfer_message_names_each_bad_field() -> None:
    messages = errors_of(FtpTransferSchema, {"directory": "a/../b", "fileName": ".hidden",
                                             "extra": 1})
    assert set(messages) == {"directory", "fileName", "extra"}


def test_os_transfer_message() -> None:
    good = {"namespace": "axz1", "bucket": "dacs-in_1", "objectName": "score.csv"}
    assert OsTransferSchema().load(good) == good
    messages = errors_of(OsTransferSchema, {"namespace": "a b", "bucket": "../x",
                                            "objectName": "dir/score.csv"})
    assert set(messages) == {"namespace", "bucket", "objectName"}
    assert set(errors_of(OsTransferSchema, {})) == {"namespace", "bucket", "objectName"}


def test_sp_network_location_message() -> None:
    good = {"messageId": "M-1", "fileName": "SPNL_20261204.csv"}
    assert sp_network_location.SpNetworkLocationSchema().load(good) == good
    assert set(errors_of(sp_network_location.SpNetworkLocationSchema,
                         {"messageId": "", "fileName": "a/b.csv"})) == {"messageId", "fileName"}


def test_run_now_body() -> None:
    assert DeviceScoreRunSchema().load({}) == {}
    assert DeviceScoreRunSchema().load({"source": "os"}) == {"source": "os"}
    assert set(errors_of(DeviceScoreRunSchema, {"source": "http"})) == {"source"}


# -- which Device Score files a run takes -----------------------------------------------------

NOW = 1_800_000_000.0


def entry(name: str, age: float = 3600, size: int = 10) -> Entry:
    return Entry(name, size, NOW - age)


def test_a_run_takes_the_prefixed_files_old_enough_and_never_tagged_ones() -> None:
    listing = [entry("DeviceScore_2.csv"), entry("DeviceScore_1.csv"), entry("Other.csv"),
               entry("Sent-DeviceScore_0.csv"), entry("Error-DeviceScore_9.csv"),
               entry("DeviceScore_new.csv", age=5)]
    taken, young = eligible(listing, prefix="DeviceScore", tags=("Sent-", "Error-"),
                            min_age=30, now=NOW)
    assert [e.name for e in taken] == ["DeviceScore_1.csv", "DeviceScore_2.csv"]
    assert [e.name for e in young] == ["DeviceScore_new.csv"]


def test_tagged_files_are_skipped_even_when_the_prefix_would_match_them() -> None:
    listing = [entry("Sent-x.csv"), entry("Error-y.csv"), entry("S1.csv")]
    taken, _ = eligible(listing, prefix="", tags=("Sent-", "Error-"), min_age=0, now=NOW)
    assert [e.name for e in taken] == ["S1.csv"]
    taken, _ = eligible(listing, prefix="S", tags=("Sent-", "Error-"), min_age=0, now=NOW)
    assert [e.name for e in taken] == ["S1.csv"]


def test_tags_and_claim_keys() -> None:
    assert tagged("Sent-", "DeviceScore_1.csv") == "Sent-DeviceScore_1.csv"
    first = Entry("DeviceScore.csv", 10, NOW)
    # The same name written again later (new size or time) is a new file, with its own claim.
    assert claim_key(first) != claim_key(Entry("DeviceScore.csv", 11, NOW))
    assert claim_key(first) != claim_key(Entry("DeviceScore.csv", 10, NOW + 60))
    assert claim_key(first) == claim_key(Entry("DeviceScore.csv", 10, NOW + 0.4))
    assert device_score.summary(["a"], ["b", "c"], []) == {"sent": 1, "notSent": 2, "skipped": 0}


# -- SP Network Location routing --------------------------------------------------------------

def test_sp_network_location_goes_where_the_transfer_preference_says(tmp_path: Any) -> None:
    base = support.door_overrides(tmp_path, **{
        "dacs.spNtwkLoc.ftp.input.directory": "/in/spnl", "dacs.spNtwkLoc.os.bucketname": "spnl",
        "dacs.os.namespace": "ns1"})
    message = {"messageId": "M-1", "fileName": "SPNL.csv"}
    ftp = support.make_config({**base, "dacs.file.target.transfer.pref": "ftp"})
    assert sp_network_location.destination(ftp, message) == Destination(
        "ftp", "SPNL.csv", directory="/in/spnl")
    os_ = support.make_config({**base, "dacs.file.target.transfer.pref": "os"})
    assert sp_network_location.destination(os_, message) == Destination(
        "os", "SPNL.csv", bucket="spnl", namespace="ns1")
    assert "bucket spnl (namespace ns1)" in sp_network_location.destination(os_, message).describe()


def test_sp_network_location_without_a_bucket_is_a_config_error(tmp_path: Any) -> None:
    from hub.config import ConfigError

    config = support.make_config(support.door_overrides(
        tmp_path, **{"dacs.file.target.transfer.pref": "os"}))
    with pytest.raises(ConfigError) as caught:
        sp_network_location.destination(config, {"messageId": "M", "fileName": "x.csv"})
    assert "dacs.spNtwkLoc.os.bucketname" in str(caught.value.problems)
