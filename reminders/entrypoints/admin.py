"""The admin API under /v1 (bearer token)."""

from __future__ import annotations

from fastapi import APIRouter

from reminders.bootstrap import Container


def build_router(container: Container) -> APIRouter:
    return APIRouter(prefix="/v1", tags=["admin"])
