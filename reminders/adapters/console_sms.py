"""The console SMS backend: each SMS becomes one log line, for development and demos.

It is the one place where a message body reaches the log, because showing it is the whole
point of this backend; the number is masked all the same."""

from __future__ import annotations

import logging
import uuid

from reminders.domain.model import PhoneNumber
from reminders.ports import SentSms

logger = logging.getLogger("reminders.sms.console")


class ConsoleSmsSender:
    def send(self, to: PhoneNumber, body: str) -> SentSms:
        sid = "CONSOLE" + uuid.uuid4().hex[:27]
        logger.info("console SMS", extra={"to": to.masked(), "sms_body": body, "twilio_sid": sid})
        return SentSms(sid, "sent")
