"""The console SMS backend: each SMS becomes one log line, for development and demos.

It is the one place where a message body reaches the log, because showing it is the whole
point of this backend; the number is masked all the same."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from reminders.domain.errors import SmsLookupError
from reminders.domain.model import PhoneNumber
from reminders.ports import SentSms

logger = logging.getLogger("reminders.sms.console")


class ConsoleSmsSender:
    def send(self, to: PhoneNumber, body: str) -> SentSms:
        sid = "CONSOLE" + uuid.uuid4().hex[:27]
        logger.info("console SMS", extra={"to": to.masked(), "sms_body": body, "twilio_sid": sid})
        return SentSms(sid, "sent")

    def find_sent(
        self, to: PhoneNumber, body: str, since: datetime, *, excluding: str | None = None
    ) -> SentSms | None:
        """Always raises SmsLookupError: the log lines are the only record of what this
        backend sent, and nothing reads them back, so it cannot say (not even after a
        restart) whether a message went out."""
        raise SmsLookupError(
            "the console SMS backend keeps no record of what it sent, so it cannot say "
            "whether a message already went out"
        )
