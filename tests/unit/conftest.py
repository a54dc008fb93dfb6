"""Fixtures of the use-case tests that run on the in-memory unit of work."""

from __future__ import annotations

import pytest

from tests.fakes import InMemoryUnitOfWorkFactory


@pytest.fixture
def factory() -> InMemoryUnitOfWorkFactory:
    return InMemoryUnitOfWorkFactory()
