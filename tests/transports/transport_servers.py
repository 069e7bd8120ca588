"""Real file servers on 127.0.0.1 for the transport tests: OpenSSH sshd, pyftpdlib (FTP and
FTPS) and moto's S3 server. Started and stopped by the fixtures in conftest.py."""

from __future__ import annotations

import datetime
import ipaddress
import logging
import os
import pwd
import secrets
import signal
import socket
import subprocess
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub.transports import Transport


@dataclass
class Case:
    """A transport on a fresh directory, plus a back door to the storage under it, so tests can
    check what really exists (temporary files included) without trusting the transport."""

    kind: str
    transport: Transport
    raw_names: Callable[[], list[str]]
    write_raw: Callable[[str, bytes], None]
    make_subdir: Callable[[str], None]
    secret: str | None = None


SSHD = Path("/usr/sbin/sshd")
PASSWORD_USER = "hubsftp"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (for servers that cannot bind port 0 themselves)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_banner(port: int, proc: subprocess.Popen[bytes], timeout: float = 10) -> bool:
    """True once something on ``port`` speaks SSH; False if ``proc`` died first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                if s.recv(64).startswith(b"SSH-2.0-"):
                    return True
        except OSError:
            time.sleep(0.05)
    return False


def keygen(path: Path) -> Path:
    """A new ed25519 key pair at ``path`` / ``path.pub``; returns ``path``."""
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "hub-test",
                    "-f", str(path)], check=True)
    return path


def ensure_password_user(home: Path) -> tuple[str, str, bool]:
    """Create (or reuse) the local account the password-auth test logs in as, with a fresh
    random password. Returns (user, password, created). Needs root, like the sshd itself."""
    created = False
    try:
        pwd.getpwnam(PASSWORD_USER)
    except KeyError:
        subprocess.run(["useradd", "--no-create-home", "--home-dir", str(home),
                        "--shell", "/usr/sbin/nologin", PASSWORD_USER], check=True)
        created = True
    else:
        subprocess.run(["usermod", "--home", str(home), PASSWORD_USER], check=True)
    password = secrets.token_urlsafe(18)
    subprocess.run(["chpasswd"], input=f"{PASSWORD_USER}:{password}\n".encode(), check=True)
    entry = pwd.getpwnam(PASSWORD_USER)
    home.mkdir(parents=True, exist_ok=True)
    os.chown(home, entry.pw_uid, entry.pw_gid)
    return PASSWORD_USER, password, created


def remove_password_user() -> None:
    subprocess.run(["userdel", PASSWORD_USER], check=False)


@dataclass
class Sshd:
    """A real OpenSSH sshd (``sshd -D -e``, a child of the test process) serving SFTP."""

    directory: Path
    port: int
    proc: subprocess.Popen[bytes]
    host_key: Path
    client_key: Path
    known_hosts: Path
    log: Path

    def url(self, path: str | Path, user: str = "root") -> str:
        return f"sftp://{user}@127.0.0.1:{self.port}{path}"

    def descendants(self) -> list[int]:
        """PIDs of the per-connection processes this sshd forked (children, grandchildren)."""
        parents: dict[int, int] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue  # exited meanwhile
            # "pid (comm) state ppid ...": comm may hold spaces, so split after the last ')'.
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
        found, frontier = [], [self.proc.pid]
        while frontier:
            pid = frontier.pop()
            kids = [p for p, pp in parents.items() if pp == pid]
            found += kids
            frontier += kids
        return found

    def kill_sessions(self) -> int:
        """SIGKILL every session process of this sshd (by pid): connections drop mid-stream,
        as when a server crashes. The listener keeps running."""
        pids = self.descendants()
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return len(pids)

    def stop(self) -> None:
        self.kill_sessions()
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def start_sshd(directory: Path) -> Sshd:
    """Start sshd on a free loopback port with a new host key; root may log in with a new client
    key, and any local user with a password. Writes known_hosts with ssh-keyscan, exactly as an
    operator would (docs/transports.md)."""
    if not SSHD.exists():
        raise RuntimeError("OpenSSH server missing: apt-get install -y openssh-server")
    directory.mkdir(parents=True, exist_ok=True)
    host_key = keygen(directory / "host_ed25519")
    client_key = keygen(directory / "client_ed25519")
    authorized = directory / "authorized_keys"
    authorized.write_text(client_key.with_suffix(".pub").read_text())
    # Privilege separation directory, normally made by the distribution's service unit.
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    log = directory / "sshd.log"
    for _ in range(5):  # a free port can be taken between free_port() and bind: retry
        port = free_port()
        config = directory / "sshd_config"
        config.write_text(f"""\
Port {port}
ListenAddress 127.0.0.1
HostKey {host_key}
PidFile none
AuthorizedKeysFile {authorized}
PermitRootLogin yes
PubkeyAuthentication yes
PasswordAuthentication yes
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
UseDNS no
LogLevel INFO
Subsystem sftp internal-sftp
ForceCommand internal-sftp
MaxStartups 50:30:100
""")
        with open(log, "ab") as log_file:
            proc = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(config)],
                                    stdout=log_file, stderr=subprocess.STDOUT)
        if _wait_for_banner(port, proc):
            break
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    else:
        raise RuntimeError(f"sshd did not start; see {log}:\n{log.read_text()[-2000:]}")
    scan = subprocess.run(["ssh-keyscan", "-H", "-t", "ed25519", "-p", str(port), "127.0.0.1"],
                          capture_output=True, check=True, timeout=20)
    known_hosts = directory / "known_hosts"
    known_hosts.write_bytes(scan.stdout)
    if not scan.stdout.strip():
        raise RuntimeError(f"ssh-keyscan found no key: {scan.stderr.decode()}")
    return Sshd(directory, port, proc, host_key, client_key, known_hosts, log)


# -- FTP / FTPS -------------------------------------------------------------------------------

FTP_USER, FTP_PASSWORD = "hub", "ftp-secret-Pw9"


class FtpServer:
    """pyftpdlib in a thread; one user whose virtual root is ``root``."""

    def __init__(self, root: Path, *, certfile: Path | None = None, mlsd: bool = True):
        with warnings.catch_warnings():
            # pyftpdlib still imports asyncore/asynchat (deprecated in 3.11): not ours to fix,
            # and pyproject's filterwarnings=error would turn it into a failure.
            warnings.simplefilter("ignore", DeprecationWarning)
            from pyftpdlib.authorizers import DummyAuthorizer
            from pyftpdlib.handlers import FTPHandler, TLS_FTPHandler
            from pyftpdlib.ioloop import IOLoop
            from pyftpdlib.servers import FTPServer

        logging.getLogger("pyftpdlib").setLevel(logging.WARNING)
        authorizer = DummyAuthorizer()
        authorizer.add_user(FTP_USER, FTP_PASSWORD, str(root), perm="elradfmwMT")
        base = TLS_FTPHandler if certfile else FTPHandler
        attrs: dict[str, Any] = {"authorizer": authorizer, "banner": "hub test ftpd",
                                 "permit_foreign_addresses": False,
                                 # pyftpdlib waits 3 s after a bad password; tests need not.
                                 "auth_failed_timeout": 0.1}
        if certfile:
            attrs.update(certfile=str(certfile), tls_control_required=True,
                         tls_data_required=True)
        if not mlsd:
            cmds = dict(base.proto_cmds)
            del cmds["MLSD"], cmds["MLST"]
            attrs["proto_cmds"] = cmds
        handler = type("Handler", (base,), attrs)
        self.root = root
        # Its own IOLoop: the default one is a process-wide singleton shared by all servers.
        self.server = FTPServer(("127.0.0.1", 0), handler, ioloop=IOLoop())
        self.port = int(self.server.address[1])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="ftpd", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            self.server.serve_forever(timeout=0.05, blocking=False, handle_exit=False)
        self.server.close_all()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)


def self_signed_cert(directory: Path) -> Path:
    """A PEM file holding a new key and a self-signed certificate for 127.0.0.1; the same file
    serves as the client's CA file."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    pem = directory / "ftps.pem"
    pem.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                          serialization.NoEncryption())
        + cert.public_bytes(serialization.Encoding.PEM))
    return pem


def cert_only(pem: Path) -> Path:
    """The certificate part of ``pem`` (what a client trusts), without the private key."""
    text = pem.read_text()
    ca = pem.with_name("ca.pem")
    ca.write_text(text[text.index("-----BEGIN CERTIFICATE-----"):])
    return ca


# -- S3 ---------------------------------------------------------------------------------------

BUCKET = "hub-transport-tests"
S3_KEY_ID, S3_SECRET = "AKIAHUBTEST000000000", "hub-test-secret-key-0123456789abcdefghij"


class S3Server:
    """moto's S3 in server mode, on a free loopback port."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.server.start()
        host, port = self.server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        self._client: Any = None

    def client(self) -> Any:
        """A plain boto3 client on the server: the tests' back door."""
        import boto3

        if self._client is None:
            self._client = boto3.session.Session().client(
                "s3", endpoint_url=self.endpoint, region_name="us-east-1",
                aws_access_key_id=S3_KEY_ID, aws_secret_access_key=S3_SECRET)
        return self._client

    def stop(self) -> None:
        self.server.stop()
