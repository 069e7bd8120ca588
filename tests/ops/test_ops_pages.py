"""The ops pages: in a real headless Chromium against a real `hub web`, and their guards."""

from __future__ import annotations

import base64
import datetime as dt
import re
from typing import Any

import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

import support
from conftest import Stack
from ops.ops_support import (
    WebServer,
    enrollment_sync_message,
    fail_enrollment_sync,
    unique,
    wait_dead_letter,
    wait_job,
)


def sign_in(chrome: Any, client: str = "ops") -> None:
    """Send Basic credentials with every request, as the browser does after its login prompt."""
    user, password = support.CREDENTIALS[client]
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    chrome.execute_cdp_cmd("Network.enable", {})
    chrome.execute_cdp_cmd("Network.setExtraHTTPHeaders",
                           {"headers": {"Authorization": f"Basic {token}"}})


def test_requeue_button_turns_a_failed_job_succeeded(
        ops: Stack, web: WebServer, chrome: Any, sandbox_control: Any) -> None:
    # DERMS is down until after the failure: the sync flow answers 502 and leaves a dead letter.
    job_id = unique("page")
    sandbox_control.switches("derms", down=True)
    answer = requests.post(f"{web.url}/api/v1/dacs/enrollment-syncs",
                           auth=support.CREDENTIALS["dacs"], timeout=30,
                           json=enrollment_sync_message(f"S-{job_id}"),
                           headers={"X-Correlation-ID": job_id})
    assert answer.status_code == 502, answer.text
    entry = wait_dead_letter(ops, job_id)
    wait_job(ops, job_id, "FAILED")
    sandbox_control.switches("derms", down=False)

    sign_in(chrome)
    chrome.get(f"{web.url}/ops/failed?flow=enrollment_sync")
    assert "Failed work" in chrome.title, chrome.page_source[:2000]
    row = chrome.find_element(By.CSS_SELECTOR, f'tr[data-entry="{entry["id"]}"]')
    assert "enrollment_sync.send" in row.text and "503" in row.text
    row.find_element(By.CSS_SELECTOR, "button.requeue").click()
    notice = WebDriverWait(chrome, 10).until(EC.presence_of_element_located((By.ID, "notice")))
    assert f"Re-queued {entry['id']}" in notice.text
    assert not chrome.find_elements(By.CSS_SELECTOR, f'tr[data-entry="{entry["id"]}"]')

    chrome.get(f"{web.url}/ops/jobs/{job_id}")

    def succeeded(driver: Any) -> bool:
        if "SUCCEEDED" in driver.find_element(By.ID, "job-status").text:
            return True
        driver.refresh()  # the page also reloads itself while the job runs
        return False

    WebDriverWait(chrome, 30, poll_frequency=0.5).until(succeeded)
    timeline = chrome.find_element(By.ID, "timeline").text
    assert "requeued" in timeline and "FAILED" in timeline
    calls = chrome.find_element(By.ID, "calls").text
    assert "derms.enroll 503" in calls and "derms.enroll 200" in calls
    failed = chrome.find_element(By.ID, "job-failed").text
    assert "REQUEUED" in failed
    assert not chrome.find_elements(By.CSS_SELECTOR, "button.requeue")


def test_discard_button_asks_first(ops: Stack, web: WebServer, chrome: Any,
                                   sandbox_control: Any) -> None:
    job_id, entry = fail_enrollment_sync(ops, sandbox_control, down=False)
    sign_in(chrome)
    chrome.get(f"{web.url}/ops/jobs/{job_id}")
    button = chrome.find_element(By.CSS_SELECTOR, f'button.discard[data-id="{entry["id"]}"]')
    button.click()
    chrome.switch_to.alert.dismiss()  # "No": nothing happens
    assert ops.ledger.get_dead_letter(entry["id"])["status"] == "OPEN"
    chrome.find_element(By.CSS_SELECTOR, f'button.discard[data-id="{entry["id"]}"]').click()
    chrome.switch_to.alert.accept()
    WebDriverWait(chrome, 10).until(EC.presence_of_element_located((By.ID, "notice")))
    assert ops.ledger.get_dead_letter(entry["id"])["status"] == "DISCARDED"
    assert "DISCARDED" in chrome.find_element(By.ID, "job-failed").text
    assert "FAILED" in chrome.find_element(By.ID, "job-status").text


def test_jobs_page_filters_and_shows_segment_progress(ops: Stack, web: WebServer,
                                                      chrome: Any) -> None:
    # A file job's ledger record, as a file flow writes it: 4 segments, 3 in.
    job_id = unique("file-job")
    ops.ledger.create_job(job_id, "event_device_outcome", client="derms", message_id="M-9")
    ops.ledger.add_chunks(job_id, [{"rows": [i * 10, i * 10 + 10]} for i in range(4)])
    ops.ledger.set_job(job_id, status="RUNNING")
    for seq in range(3):
        ops.ledger.finish_chunk(job_id, seq, "DONE")
    sign_in(chrome)
    chrome.get(f"{web.url}/ops/jobs?flow=event_device_outcome&status=RUNNING")
    row = chrome.find_element(By.CSS_SELECTOR, f'tr[data-job="{job_id}"]')
    bar = row.find_element(By.TAG_NAME, "progress")
    assert (bar.get_attribute("value"), bar.get_attribute("max")) == ("3", "4")
    assert "3/4" in row.text
    chrome.get(f"{web.url}/ops/jobs?flow=enrollment_sync")
    assert not chrome.find_elements(By.CSS_SELECTOR, f'tr[data-job="{job_id}"]')
    chrome.get(f"{web.url}/ops/jobs/{job_id}")
    segments = chrome.find_element(By.ID, "segments").text
    assert segments.count("DONE") == 3 and "PENDING" in segments
    ops.ledger.set_job(job_id, status="SUCCEEDED")


def test_schedule_and_health_pages(ops: Stack, web: WebServer, chrome: Any) -> None:
    import beat_schedule
    from celery.signals import after_task_publish

    from hub.cli import _record_schedule_runs
    from tasks.app import celery_app

    # What `hub beat` does when it sends an entry's task: the ledger records the run.
    record = _record_schedule_runs(ops.ledger, celery_app)
    try:
        celery_app.send_task("housekeeping.reconcile")
    finally:
        after_task_publish.disconnect(record)
    assert ops.ledger.schedule_runs()["reconcile-pending-segments"]["runs"] == 1
    ops.ledger.mark_schedule_run("device-score-transfer", "device_score.run", "t-1")
    sign_in(chrome)
    chrome.get(f"{web.url}/ops/schedule")
    for name in beat_schedule.build(ops.config):
        assert chrome.find_element(By.CSS_SELECTOR, f'tr[data-entry="{name}"]')
    row = chrome.find_element(By.CSS_SELECTOR, 'tr[data-entry="device-score-transfer"]')
    assert "cron */15 * * * *" in row.text
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ", row.find_element(By.CLASS_NAME,
                                                                           "last").text)
    assert row.find_element(By.CLASS_NAME, "next").text not in ("", "never")
    reconcile = chrome.find_element(By.CSS_SELECTOR, 'tr[data-entry="reconcile-pending-segments"]')
    assert "every 60 s" in reconcile.text and "never" not in reconcile.text
    assert "No Beat has run" in chrome.find_element(By.ID, "beat-lock").text
    owner = "beat-host:4242:abc123"
    assert ops.ledger.claim_file("beat", "lock", owner, dt.timedelta(seconds=60))
    try:
        chrome.refresh()
        assert f"Beat is running: {owner} holds the lock" in \
            chrome.find_element(By.ID, "beat-lock").text
    finally:
        ops.ledger.release_claim("beat", "lock", owner)
    chrome.get(f"{web.url}/ops/health")
    health = {r.get_attribute("data-part"): r.text
              for r in chrome.find_elements(By.CSS_SELECTOR, "#health tbody tr")}
    assert set(health) == {"broker", "ledger", "workers", "dacs", "derms"}
    assert all(" UP " in f" {text} " for text in health.values()), health


def test_ops_pages_need_the_ops_credentials_and_a_csrf_token(
        ops: Stack, web: WebServer, sandbox_control: Any) -> None:
    anonymous = requests.get(f"{web.url}/ops/jobs", timeout=10)
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Basic ")  # the browser's prompt
    assert "open_failed" not in anonymous.text and "badge" not in anonymous.text
    assert requests.get(f"{web.url}/ops/jobs", auth=support.CREDENTIALS["dacs"],
                        timeout=10).status_code == 403
    page = requests.get(f"{web.url}/ops/failed", auth=support.CREDENTIALS["ops"], timeout=10)
    assert page.status_code == 200
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]

    job_id, entry = fail_enrollment_sync(ops, sandbox_control, down=False)
    action = f"{web.url}/ops/failed/{entry['id']}/requeue"
    forged = requests.post(action, auth=support.CREDENTIALS["ops"], timeout=10,
                           data={"next": "/ops/failed"}, allow_redirects=False)
    assert forged.status_code == 403
    wrong = requests.post(action, auth=support.CREDENTIALS["ops"], timeout=10,
                          data={"csrf_token": "0" * 64}, allow_redirects=False)
    assert wrong.status_code == 403
    token = re.search(r'name="csrf_token" value="([0-9a-f]{64})"',
                      requests.get(f"{web.url}/ops/jobs/{job_id}", timeout=10,
                                   auth=support.CREDENTIALS["ops"]).text).group(1)
    cross_site = requests.post(action, auth=support.CREDENTIALS["ops"], timeout=10,
                               data={"csrf_token": token}, allow_redirects=False,
                               headers={"Sec-Fetch-Site": "cross-site"})
    assert cross_site.status_code == 403
    assert ops.ledger.get_dead_letter(entry["id"])["status"] == "OPEN"
    # The token is bound to the credentials: the same form with them works, once.
    ok = requests.post(action, auth=support.CREDENTIALS["ops"], timeout=10,
                       data={"csrf_token": token, "next": "//evil.example/"},
                       allow_redirects=False)
    assert ok.status_code == 303 and ok.headers["Location"].startswith("/ops/failed?")
    again = requests.post(action, auth=support.CREDENTIALS["ops"], timeout=10,
                          data={"csrf_token": token}, allow_redirects=False)
    assert again.status_code == 409
    wait_job(ops, job_id, "SUCCEEDED")
