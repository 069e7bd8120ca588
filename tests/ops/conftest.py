"""Fixtures for the operations tests: a hub of their own (a worker, a real `hub web`), the sandbox
demanding the hub's outbound credentials, and a headless Chromium."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import Stack, _start_stack
from hub import metrics
from ops.ops_support import SCORE_DIR, Relay, WebServer, ops_overrides, sandbox_auth
from transports.transport_servers import FTP_PASSWORD, FTP_USER, FtpServer


@pytest.fixture(scope="session")
def ops_relay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Relay]:
    """The ops hub's own mail relay, which a test may stop and start again."""
    relay = Relay(tmp_path_factory.mktemp("ops-mail"))
    yield relay
    relay.stop()


@pytest.fixture(scope="session")
def ops_ftp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FtpServer]:
    """DACS's file server for the ops hub's Device Score (its input folder starts missing)."""
    server = FtpServer(tmp_path_factory.mktemp("ops-ftp"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def _ops_stack(sandbox: Any, ops_relay: Relay, ops_ftp: FtpServer,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    overrides = {
        **ops_overrides(sandbox),
        "dacs.file.target.transfer.pref": "ftp",
        "dacs.ftp.url": f"ftp://{FTP_USER}@127.0.0.1:{ops_ftp.port}",
        "dacs.ftp.password": FTP_PASSWORD,
        "dacs.dvcScore.ftp.input.directory": SCORE_DIR,
        "device.score.min.age.seconds": 0,
        "dacs.file.segment.size": 2,  # a small file is several segments
    }
    stack = _start_stack("redis", sandbox, ops_relay, tmp_path_factory.mktemp("hub-ops"),
                         **overrides)
    web = WebServer(stack.config_file)
    stack.extra["web"] = web
    try:
        web.wait_ready()
        yield stack
    finally:
        web.stop()
        if stack.worker:
            stack.worker.stop()


@pytest.fixture
def ops(_ops_stack: Stack, sandbox_control: Any) -> Stack:
    """The operations hub: in-process door, a real worker, a real `hub web` (``.extra["web"]``),
    the sandbox demanding the hub's outbound credentials."""
    sandbox_auth(sandbox_control)
    stack = _ops_stack.activate()
    # The door in this process counts into this hub's metrics folder, like `hub web` does.
    metrics.setup(stack.config.var_dir / "metrics")
    return stack


@pytest.fixture
def web(ops: Stack) -> WebServer:
    return ops.extra["web"]


# -- the browser ------------------------------------------------------------------------------
@pytest.fixture
def chrome(tmp_path: Path) -> Iterator[Any]:
    """Headless Chromium through chromedriver (Debian's packages; .ci/run installs them)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary = shutil.which("chromium") or "/usr/bin/chromium"
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    if not Path(driver_path).exists():
        pytest.fail("chromedriver is missing: apt-get install -y chromium chromium-driver "
                    "(.ci/run does it)")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'chrome'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
