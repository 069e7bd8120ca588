"""SFTP against a real OpenSSH sshd: host key trust, key and password auth, dropped links."""

from __future__ import annotations

import io
import random
import subprocess
from pathlib import Path
from typing import Any

import pytest
from transports.transport_servers import Sshd, free_port, keygen

from hub.transports import (
    CHUNK_SIZE,
    HostKeyError,
    TransientTransportError,
    TransportAuthError,
    open_transport,
)

MiB = 1024 * 1024


def sftp(server: Sshd, directory: Path, **options: Any) -> Any:
    options.setdefault("private_key_file", str(server.client_key))
    options.setdefault("known_hosts_file", str(server.known_hosts))
    options.setdefault("timeout", 10)
    return open_transport(server.url(directory), **options)


def known_hosts_line(host_field: str, pub_key_file: Path) -> str:
    key_type, key_b64 = pub_key_file.read_text().split()[:2]
    return f"{host_field} {key_type} {key_b64}\n"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    d = tmp_path / "remote"
    d.mkdir()
    return d


class TestHostKeys:
    def test_a_changed_host_key_is_refused_and_nothing_moves(self, sshd: Sshd, folder: Path,
                                                             tmp_path: Path) -> None:
        # known_hosts names this very host:port, but with another key: a man in the middle.
        other = keygen(tmp_path / "impostor")
        known = tmp_path / "known_hosts"
        known.write_text(known_hosts_line(f"[127.0.0.1]:{sshd.port}", other.with_suffix(".pub")))
        with sftp(sshd, folder, known_hosts_file=str(known)) as t:
            with pytest.raises(HostKeyError) as info:
                t.put("score.csv", io.BytesIO(b"secret data"))
            assert "CHANGED" in str(info.value)
            assert not info.value.transient
            with pytest.raises(HostKeyError):
                t.list()
        assert list(folder.iterdir()) == []
        assert isinstance(info.value, TransportAuthError)

    def test_an_unknown_host_is_refused(self, sshd: Sshd, folder: Path, tmp_path: Path) -> None:
        (folder / "there.csv").write_bytes(b"1")
        # The right key, but filed under port 22: a key is trusted for its host:port only.
        known = tmp_path / "known_hosts"
        known.write_text(known_hosts_line("127.0.0.1", sshd.host_key.with_suffix(".pub")))
        with sftp(sshd, folder, known_hosts_file=str(known)) as t:
            with pytest.raises(HostKeyError) as info:
                t.list()
        message = str(info.value)
        assert f"[127.0.0.1]:{sshd.port}" in message and "not in known_hosts" in message
        # The operator gets the fingerprint to verify out of band; it is the real one.
        fingerprint = subprocess.run(["ssh-keygen", "-l", "-f", str(sshd.host_key)],
                                     capture_output=True, text=True, check=True).stdout.split()[1]
        assert fingerprint in message

    def test_a_missing_known_hosts_file_trusts_nothing(self, sshd: Sshd, folder: Path,
                                                       tmp_path: Path) -> None:
        with sftp(sshd, folder, known_hosts_file=str(tmp_path / "absent")) as t:
            with pytest.raises(HostKeyError, match="does not exist"):
                t.list()

    def test_keyscanned_hashed_known_hosts_is_accepted(self, sshd: Sshd, folder: Path) -> None:
        # The fixture wrote known_hosts with `ssh-keyscan -H`, as docs/transports.md says.
        assert sshd.known_hosts.read_text().startswith("|1|")
        with sftp(sshd, folder) as t:
            t.put("a.csv", io.BytesIO(b"1"))
            assert [e.name for e in t.list()] == ["a.csv"]


class TestAuthentication:
    def test_key_auth(self, sshd: Sshd, folder: Path) -> None:
        with sftp(sshd, folder) as t:
            assert t.put("k.csv", io.BytesIO(b"by key")) == 6
        assert (folder / "k.csv").read_bytes() == b"by key"

    def test_a_key_the_server_does_not_know_is_refused(self, sshd: Sshd, folder: Path,
                                                       tmp_path: Path) -> None:
        stranger = keygen(tmp_path / "stranger")
        with sftp(sshd, folder, private_key_file=str(stranger)) as t:
            with pytest.raises(TransportAuthError) as info:
                t.list()
        assert not isinstance(info.value, HostKeyError)
        assert not info.value.transient

    def test_a_missing_private_key_file_is_an_auth_error(self, sshd: Sshd, folder: Path,
                                                         tmp_path: Path) -> None:
        with sftp(sshd, folder, private_key_file=str(tmp_path / "nope")) as t:
            with pytest.raises(TransportAuthError, match="private key file"):
                t.list()

    def test_an_encrypted_key_is_opened_with_the_password(self, sshd: Sshd, folder: Path,
                                                          tmp_path: Path) -> None:
        key = tmp_path / "encrypted_ed25519"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "pass phrase 1",
                        "-f", str(key)], check=True)
        with open(sshd.directory / "authorized_keys", "a") as f:
            f.write(key.with_suffix(".pub").read_text())
        with sftp(sshd, folder, private_key_file=str(key)) as t:
            with pytest.raises(TransportAuthError, match="cannot load private key"):
                t.list()
        with sftp(sshd, folder, private_key_file=str(key), password="pass phrase 1") as t:
            t.put("e.csv", io.BytesIO(b"1"))
        assert (folder / "e.csv").exists()

    def test_a_garbage_key_file_is_an_auth_error(self, sshd: Sshd, folder: Path,
                                                 tmp_path: Path) -> None:
        junk = tmp_path / "junk"
        junk.write_text("not a key\n")
        with sftp(sshd, folder, private_key_file=str(junk)) as t:
            with pytest.raises(TransportAuthError, match="cannot load private key"):
                t.list()

    def test_no_credentials_at_all_is_an_auth_error(self, sshd: Sshd, folder: Path) -> None:
        with sftp(sshd, folder, private_key_file=None) as t:
            with pytest.raises(TransportAuthError) as info:
                t.list()
        assert not info.value.transient

    def test_password_auth(self, sshd: Sshd, sftp_password_user: dict[str, Any]) -> None:
        user, password = sftp_password_user["user"], sftp_password_user["password"]
        inbox = sftp_password_user["home"] / "inbox"
        inbox.mkdir(exist_ok=True)
        import shutil
        shutil.chown(inbox, user)
        # "/~/inbox": relative to the login (home) directory.
        url = f"sftp://{user}@127.0.0.1:{sshd.port}/~/inbox"
        with open_transport(url, password=password, known_hosts_file=str(sshd.known_hosts),
                            timeout=10) as t:
            assert t.put("p.csv", io.BytesIO(b"by password")) == 11
            assert [e.name for e in t.list()] == ["p.csv"]
            assert password not in repr(t) and password not in repr(vars(t))
        assert (inbox / "p.csv").read_bytes() == b"by password"
        assert (inbox / "p.csv").stat().st_uid == inbox.stat().st_uid  # written as that user

    def test_a_wrong_password_is_refused(self, sshd: Sshd,
                                         sftp_password_user: dict[str, Any]) -> None:
        url = f"sftp://{sftp_password_user['user']}@127.0.0.1:{sshd.port}/"
        wrong = "not-" + sftp_password_user["password"]
        with open_transport(url, password=wrong, known_hosts_file=str(sshd.known_hosts),
                            timeout=10) as t:
            with pytest.raises(TransportAuthError) as info:
                t.list()
        assert not info.value.transient
        assert wrong not in str(info.value)


class TestConnectionFailures:
    def test_nothing_listening_is_transient(self, sshd: Sshd, folder: Path) -> None:
        url = f"sftp://root@127.0.0.1:{free_port()}{folder}"
        with open_transport(url, known_hosts_file=str(sshd.known_hosts), timeout=5) as t:
            with pytest.raises(TransientTransportError):
                t.list()

    def test_a_connection_dropped_mid_download_is_transient(self, make_sshd: Any,
                                                            folder: Path) -> None:
        server = make_sshd()  # a private server: this test kills its sessions
        data = random.Random(1).randbytes(32 * MiB)
        (folder / "big.bin").write_bytes(data)
        with sftp(server, folder) as t:
            got = bytearray()
            with pytest.raises(TransientTransportError) as info:
                with t.open("big.bin") as f:
                    got += f.read(MiB)
                    assert server.kill_sessions() >= 1
                    while chunk := f.read(CHUNK_SIZE):
                        got += chunk
            assert info.value.transient
            # Whatever arrived before the drop was the file's true beginning, and not all of it.
            assert 0 < len(got) < len(data) and bytes(got) == data[:len(got)]
            # The next call reconnects on its own (the listener is still up).
            assert [e.name for e in t.list()] == ["big.bin"]
