"""open_transport: URL forms, options, refusals and install hints."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from hub.transports import Transport, open_transport
from hub.transports.ftp import FTPTransport
from hub.transports.local import LocalTransport
from hub.transports.s3 import S3Transport
from hub.transports.sftp import SFTPTransport


def test_plain_paths_and_file_urls_are_local(tmp_path: Path) -> None:
    for url in (str(tmp_path), f"file://{tmp_path}", f"file://localhost{tmp_path}"):
        t = open_transport(url)
        assert isinstance(t, LocalTransport) and isinstance(t, Transport)
        assert t.root == tmp_path


def test_relative_paths_and_create(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    t = open_transport("var/staging", create=True)
    assert t.root == tmp_path / "var" / "staging" and t.root.is_dir()


def test_sftp_url() -> None:
    t = open_transport("sftp://dacs@files.example.com:2222/outbound/scores",
                       password="pw", known_hosts_file="/etc/hub/known_hosts", timeout=7,
                       private_key_file=None)
    assert isinstance(t, SFTPTransport)
    assert (t.host, t.port, t.username, t.directory) == (
        "files.example.com", 2222, "dacs", "/outbound/scores")
    assert t.known_hosts_file == "/etc/hub/known_hosts" and t.timeout == 7
    assert t.private_key_file is None
    assert "pw" not in repr(t)


def test_sftp_defaults_and_home_relative_directory() -> None:
    t = open_transport("sftp://dacs@files.example.com/~/in")
    assert t.port == 22 and t.directory == "in"
    assert t.known_hosts_file.endswith("/.ssh/known_hosts")
    assert open_transport("sftp://dacs@h").directory == ""


@pytest.mark.parametrize(("url", "directory", "expected"), [
    ("sftp://u@h:22", "/dacs/in", "/dacs/in"),
    ("sftp://u@h:22/base", "in", "/base/in"),
    ("sftp://u@h:22/base", "/abs", "/abs"),
    ("sftp://u@h:22/~", "in", "in"),
    ("sftp://u@h:22", "in", "in"),
])
def test_the_directory_option_joins_the_url_path(url: str, directory: str,
                                                 expected: str) -> None:
    assert open_transport(url, directory=directory).directory == expected


def test_ftp_and_ftps_urls() -> None:
    t = open_transport("ftp://dacs@ftp.example.com:2121/in", password="pw")
    assert isinstance(t, FTPTransport) and not t.tls
    assert (t.host, t.port, t.username, t.directory) == ("ftp.example.com", 2121, "dacs", "/in")
    s = open_transport("ftps://dacs@ftp.example.com/in", password="pw")
    assert isinstance(s, FTPTransport) and s.tls and s.port == 21
    assert "pw" not in repr(s) and repr(s).startswith("<FTPTransport ftps://")


def test_user_names_are_percent_decoded() -> None:
    t = open_transport("sftp://dacs%40corp@h:22/")
    assert t.username == "dacs@corp"


def test_s3_url() -> None:
    t = open_transport("s3://dvcscore/incoming/", endpoint_url="http://127.0.0.1:9",
                       region="eu-frankfurt-1", access_key_id="AK", secret_access_key="SK")
    assert isinstance(t, S3Transport)
    assert (t.bucket, t.prefix) == ("dvcscore", "incoming")
    assert "SK" not in repr(t) and "SK" not in repr(vars(t))
    assert open_transport("s3://b").prefix == ""


def test_a_password_in_the_url_is_refused_without_echoing_it() -> None:
    with pytest.raises(ValueError, match="password option") as info:
        open_transport("sftp://dacs:Hunter2@h:22/in")
    assert "Hunter2" not in str(info.value)


@pytest.mark.parametrize(("url", "message"), [
    ("gopher://h/x", "unknown transport scheme"),
    ("sftp:///nohost", "needs a host"),
    ("s3:///nobucket", "needs a bucket"),
    ("file://otherhost/x", "must be local"),
    ("ftp://h:notaport/x", "bad port"),
])
def test_bad_urls(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        open_transport(url)


def test_unknown_options_are_refused() -> None:
    with pytest.raises(TypeError):
        open_transport("ftp://u@h/", pasword="typo")


def test_a_missing_library_gives_an_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    # Make paramiko unimportable (None in sys.modules), and forget our module that imported it.
    monkeypatch.setitem(sys.modules, "paramiko", None)
    monkeypatch.delitem(sys.modules, "hub.transports.sftp")
    with pytest.raises(ImportError, match="pip install paramiko"):
        open_transport("sftp://u@h/")
    # Other schemes do not need it.
    assert isinstance(open_transport("ftp://u@h/"), FTPTransport)
