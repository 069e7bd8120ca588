"""Common Error Handler: the error email, as a task (also behind ``POST /api/v1/common/errors``).

It runs on its own queue, so a mail relay that is down never fails or delays the flow that
reported the error: SMTP's transient errors are retried here, and once spent the report itself is
a dead letter that ops can re-queue.
"""

from __future__ import annotations

import re
from typing import Any

from hub import runtime
from hub.config import Config
from hub.mail import MailPermanentError, MailTransientError, SmtpSettings, render_email, send_mail
from tasks.app import celery_app
from tasks.base import HubTask

FLOW = "common_errors"


def smtp_settings(config: Config) -> SmtpSettings:
    return SmtpSettings(host=config["smtp.host"], port=config["smtp.port"],
                        username=config.get("smtp.username"), password=config.get("smtp.password"),
                        starttls=config["smtp.starttls"], ssl=config["smtp.ssl"])


def recipients(value: str | None) -> list[str]:
    return [a.strip() for a in re.split(r"[,;]", value or "") if a.strip()]


def error_email_enabled(config: Config) -> bool:
    """The contract: send only when the error flag is true and the notification type is email."""
    return bool(config["notification.email.error.flag"]) and \
        str(config["notification.type.email"]).strip().lower() in {"email", "true"}


def job_url(config: Config, job_id: str | None) -> str | None:
    return f"{config['hub.public.url'].rstrip('/')}/ops/jobs/{job_id}" if job_id else None


def send_error_email(config: Config, report: dict[str, Any]) -> str | None:
    """Render and send the error email for ``report``; None when the flags say not to send."""
    to = recipients(config.get("email.to"))
    if not error_email_enabled(config) or not to:
        return None
    context = {
        "flow": report.get("flow"), "job_id": report.get("jobId"), "time": report.get("time"),
        "step": report.get("step"), "downstream_status": report.get("downstreamStatus"),
        "downstream_message": report.get("downstreamMessage"), "message_id": report.get("messageId"),
        "target": report.get("target"), "job_url": job_url(config, report.get("jobId")),
    }
    subject, text, html = render_email("error", context, secrets=config.secrets())
    return send_mail(smtp_settings(config), sender=config["email.from"], to=to, subject=subject,
                     text=text, html=html)


def send_process_email(config: Config, kind: str, context: dict[str, Any]) -> str | None:
    """Send a process-complete or no-file email to the process-notification recipients."""
    to = recipients(config.get("email.to.process.notification"))
    if not to:
        return None
    context = {**context, "job_url": job_url(config, context.get("job_id"))}
    subject, text, html = render_email(kind, context, secrets=config.secrets())
    return send_mail(smtp_settings(config), sender=config["email.from"], to=to, subject=subject,
                     text=text, html=html)


@celery_app.task(bind=True, base=HubTask, name="common_errors.handle", flow=FLOW,
                 retry_on=(MailTransientError,), fail_on=(MailPermanentError,),
                 notify_errors=False, retry_limit="mail.retry.max", owns_job=False)
def handle_error(self: HubTask, report: dict[str, Any], job_id: str | None = None) -> dict[str, Any]:
    config = runtime.get().config
    message_id = send_error_email(config, report)
    if report.get("jobId"):
        runtime.get().ledger.add_event(report["jobId"], "email", "error email",
                                       "SENT" if message_id else "SKIPPED")
    return {"sent": message_id is not None, "messageId": message_id}


@celery_app.task(bind=True, base=HubTask, name="common_errors.process_email", flow=FLOW,
                 retry_on=(MailTransientError,), fail_on=(MailPermanentError,),
                 notify_errors=False, retry_limit="mail.retry.max", owns_job=False)
def process_email(self: HubTask, kind: str, context: dict[str, Any],
                  job_id: str | None = None) -> dict[str, Any]:
    """The process-complete / no-file email, sent off the flow's path for the same reason."""
    config = runtime.get().config
    message_id = send_process_email(config, kind, context)
    if context.get("job_id"):
        runtime.get().ledger.add_event(context["job_id"], "email", f"{kind} email",
                                       "SENT" if message_id else "SKIPPED")
    return {"sent": message_id is not None, "messageId": message_id}


@celery_app.task(bind=True, base=HubTask, name="common_errors.report", flow=FLOW,
                 retry_on=(MailTransientError,), fail_on=(MailPermanentError,),
                 notify_errors=False, retry_limit="mail.retry.max")
def report_error(self: HubTask, report: dict[str, Any], job_id: str) -> dict[str, Any]:
    """``POST /api/v1/common/errors``: an error reported from outside, as its own job."""
    message_id = send_error_email(runtime.get().config, report)
    return {"sent": message_id is not None, "messageId": message_id}
