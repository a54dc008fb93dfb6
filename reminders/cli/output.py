"""What the command line prints: aligned tables for people, the HTTP API's JSON for scripts.
Phone numbers are always masked here: terminal output ends up in shell history, tickets and CI
logs."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from reminders.domain.messages import format_when
from reminders.domain.model import mask_phone
from reminders.domain.planning import zone_for
from reminders.entrypoints.schemas import UserOut

AnyUserOut = TypeVar("AnyUserOut", bound=UserOut)


def cell(value: Any) -> str:
    """One value as a table shows it: '-' for none, an instant in its own zone, a share in
    percent."""
    if value is None:
        return "-"
    if isinstance(value, datetime):
        zone = value.tzinfo
        return format_when(value, zone) if isinstance(zone, ZoneInfo) else value.isoformat()
    if isinstance(value, float):
        return f"{value:.0%}"
    return str(value)


def print_table(rows: list[dict[str, Any]], title: str | None = None) -> None:
    """Aligned columns headed by the keys of the first row."""
    if title:
        print(title)
    if not rows:
        print("(none)")
        return
    columns = list(rows[0])
    cells = [[cell(row[c]) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    headings = [c.upper() for c in columns]
    for line in [headings, *cells]:
        print("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())


def print_json(value: BaseModel | dict[str, Any]) -> None:
    """A model as the HTTP API answers it (or a plain object), indented."""
    data = value.model_dump(mode="json") if isinstance(value, BaseModel) else value
    json.dump(data, sys.stdout, indent=2)
    print()


def masked(out: AnyUserOut) -> AnyUserOut:
    """The user with their number masked."""
    return out.model_copy(update={"phone": mask_phone(out.phone)})


def user_row(out: UserOut) -> dict[str, Any]:
    """A user as one table row; the next session in the user's own zone."""
    zone = zone_for(out.timezone)
    return {
        "id": out.id,
        "phone": out.phone,
        "status": out.status.value,
        "timezone": out.timezone,
        "session_time": out.session_time,
        "cadence_days": out.cadence_days,
        "next_session": format_when(out.next_session_at, zone) if out.next_session_at else None,
    }
