"""Twilio webhooks: inbound SMS and status callbacks (signature-checked)."""

from __future__ import annotations

from fastapi import APIRouter

from reminders.bootstrap import Container


def build_router(container: Container) -> APIRouter:
    return APIRouter(tags=["twilio"])
