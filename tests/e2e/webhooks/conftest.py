"""Fixtures of the webhook tests: the app behind Twilio's signed webhooks and its users."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from reminders.bootstrap import Container
from reminders.domain.model import User
from tests.e2e.webhook_support import enroll_user, twilio_container, webhooks_for
from tests.twilio_webhooks import FakeTwilioWebhooks


@pytest.fixture
def container(make_container: Callable[..., Container]) -> Container:
    return twilio_container(make_container)


@pytest.fixture
def twilio(container: Container) -> Iterator[FakeTwilioWebhooks]:
    with webhooks_for(container) as webhooks:
        yield webhooks


@pytest.fixture
def pending(container: Container) -> User:
    return enroll_user(container, confirmed=False)


@pytest.fixture
def active(container: Container) -> User:
    return enroll_user(container)
