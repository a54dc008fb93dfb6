"""The SMS texts: GSM-7 only, one segment (160 characters) each, naming the brand."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from reminders.domain.model import (
    MAX_CADENCE_DAYS,
    MAX_LATER_MOVES,
    MIN_CADENCE_DAYS,
    MIN_DAYS_BETWEEN_SESSIONS,
    NEEDLE_MM,
    Step,
    format_wall_time,
)

SEGMENT = 160
# The GSM 03.38 basic character set; the extension table counts double.
_GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENDED = set("^{}\\[~]|€")

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def gsm7_length(text: str) -> int | None:
    """Length in GSM-7 septets, or None when the text needs UCS-2 (which would cost 2-3x)."""
    length = 0
    for char in text:
        if char in _GSM7_BASIC:
            length += 1
        elif char in _GSM7_EXTENDED:
            length += 2
        else:
            return None
    return length


def is_single_segment(text: str) -> bool:
    length = gsm7_length(text)
    return length is not None and length <= SEGMENT


def format_day(day: date) -> str:
    """'Wed 25 Nov': English and fixed, whatever the machine's locale."""
    return f"{WEEKDAYS[day.weekday()]} {day.day} {MONTHS[day.month - 1]}"


def format_when(at: datetime, zone: ZoneInfo) -> str:
    local = at.astimezone(zone)
    return f"{format_day(local.date())} {format_wall_time(local.time())}"


def _hhmm(at: datetime, zone: ZoneInfo) -> str:
    return format_wall_time(at.astimezone(zone).time())


def reminder_text(brand: str, step: Step, starts_at: datetime | None, zone: ZoneInfo) -> str:
    """The body of a planned SMS (R1, R4)."""
    if step is Step.SAFETY_NOTICE:
        return safety_notice_text(brand)
    if step is Step.SKIN_CHECK:
        return skin_check_text(brand)
    if step is Step.CONSENT_REQUEST or starts_at is None:
        return consent_request_text(brand)
    when = format_when(starts_at, zone)
    at = _hhmm(starts_at, zone)
    if step is Step.HEADS_UP:
        return (
            f"{brand}: Roller session {when}. Prep: remove all makeup, a gentle peel, then roll"
            f" ({NEEDLE_MM} mm). Reply LATER to move it a day, SKIP to skip."
        )
    if step is Step.MAKEUP_REMOVAL:
        return (
            f"{brand}: Roller session at {at}. First remove all makeup thoroughly, cleanse and"
            " pat your skin dry."
        )
    if step is Step.PEELING:
        return (
            f"{brand}: Now a gentle peel to clear dead skin so it absorbs better. No acids or"
            f" actives this session. Roll at {at}."
        )
    return (
        f"{brand}: Time to roll ({NEEDLE_MM} mm): gently, light strokes, never rush. Reply DONE"
        " when finished, SKIP if not today, LATER for tomorrow."
    )


def consent_request_text(brand: str) -> str:
    return (
        f"{brand}: Reply YES for reminders of your {NEEDLE_MM} mm skin-roller routine (at"
        " most weekly). HELP for help, STOP to opt out. Msg & data rates may apply."
    )


def safety_notice_text(brand: str) -> str:
    return (
        f"{brand}: Don't roll if pregnant, with an autoimmune disease or on broken/infected"
        " skin. Check products for allergies first. Unsure? Ask a doctor."
    )


def skin_check_text(brand: str) -> str:
    return (
        f"{brand}: How does your skin feel after your roller session? Reply OK if all is well,"
        " or SORE if it is red, sore, swollen or itchy."
    )


# --- replies to inbound SMS (docs/rules.md) -----------------------------------------------

RATES = "Msg & data rates may apply."


def welcome_text(brand: str, when: str) -> str:
    return (
        f"{brand}: You're in! First roller session {when}. Reply HELP for help, STOP to opt"
        f" out. {RATES}"
    )


def opted_out_text(brand: str) -> str:
    return f"{brand}: You're unsubscribed and will get no more messages. Reply START to rejoin."


def resubscribed_text(brand: str, when: str) -> str:
    return f"{brand}: You're subscribed again. Next roller session {when}. Reply STOP to opt out."


def help_text(brand: str, contact: str, per_session: int) -> str:
    """HELP: `per_session` is the number of SMS of the active plan."""
    return (
        f"{brand}: {per_session} roller msgs per session, max weekly. Reply DONE SKIP LATER"
        f" SORE. Help: {contact}. Msg&data rates may apply. STOP to end"
    )


def done_text(brand: str, when: str | None, too_soon: bool, streak: int = 0) -> str:
    """A session recorded done; `streak` sessions done in a row, named from 2 on."""
    tail = f" Next roller session {when}." if when else " Reply RESUME to restart reminders."
    if too_soon:
        return (
            f"{brand}: Noted. The routine is at most once a week: give skin"
            f" {MIN_DAYS_BETWEEN_SESSIONS} days between sessions.{tail}"
        )
    in_a_row = f" {streak} sessions in a row." if streak >= 2 else ""
    return f"{brand}: Well done!{in_a_row}{tail}"


def done_confirm_text(brand: str, when: str | None) -> str:
    """A DONE with no session under way: it counts only when sent again."""
    planned = f"; next planned {when}" if when else ""
    return f"{brand}: Reply DONE again to log a session today{planned}."


def skipped_text(brand: str, when: str) -> str:
    return f"{brand}: Skipped. Next roller session {when}."


def moved_text(brand: str, when: str, *, soon: bool = True) -> str:
    """LATER: the session moved to `when`; DONE is named only for a session under way."""
    if not soon:
        return f"{brand}: Moved to {when}."
    return f"{brand}: Moved to {when}. Reply DONE when finished."


def later_refused_text(brand: str) -> str:
    return (
        f"{brand}: This session was moved {MAX_LATER_MOVES} times already. Reply DONE when"
        " finished or SKIP."
    )


def next_text(brand: str, when: str | None) -> str:
    if when is None:
        return f"{brand}: No roller session is planned. Reply RESUME to restart reminders."
    return f"{brand}: Next roller session {when}."


def paused_text(brand: str) -> str:
    return f"{brand}: Reminders paused. Reply RESUME to restart them."


def resumed_text(brand: str, when: str) -> str:
    return f"{brand}: Reminders back on. Next roller session {when}."


def cadence_text(brand: str, days: int, when: str | None) -> str:
    tail = f" Next roller session {when}." if when else ""
    return f"{brand}: Now every {days} days.{tail}"


def cadence_refused_text(brand: str) -> str:
    return (
        f"{brand}: The routine is at most once a week. Reply EVERY with {MIN_CADENCE_DAYS} to"
        f" {MAX_CADENCE_DAYS} days, e.g. EVERY 14."
    )


def time_text(brand: str, hhmm: str, when: str | None) -> str:
    tail = f" Next roller session {when}." if when else ""
    return f"{brand}: Session time is now {hhmm}.{tail}"


def time_refused_text(brand: str, hhmm: str, window: str) -> str:
    return f"{brand}: {hhmm} would text you in quiet hours. Reply TIME with a time in {window}."


def time_help_text(brand: str) -> str:
    return f"{brand}: Reply TIME with a 24-hour time, e.g. TIME 19:30."


def sore_text(brand: str) -> str:
    return (
        f"{brand}: Reminders paused. Redness & swelling usually settle in a few days; see a"
        " doctor if worse, lasting, pus or fever. RESUME once calm."
    )


def checkin_ok_text(brand: str, when: str | None) -> str:
    tail = f" Next roller session {when}." if when else ""
    return f"{brand}: Glad to hear it!{tail}"


def keywords_text(brand: str) -> str:
    return (
        f"{brand}: Reply DONE, SKIP, LATER, NEXT, PAUSE, RESUME, TIME hh:mm, EVERY n, HELP, STOP,"
        " or SORE if your skin reacts."
    )


def limited_text(brand: str, minutes: int) -> str:
    """The last reply before the reply limiter's silence."""
    return (
        f"{brand}: Too many messages: replies paused for {minutes} minutes. Your texts are still"
        " read. Reply STOP to opt out."
    )


def not_enrolled_text(brand: str) -> str:
    return f"{brand}: This number is not enrolled. Ask your clinic or brand to sign you up."


def confirm_first_text(brand: str) -> str:
    return f"{brand}: Reply YES to start your roller reminders, HELP for help, STOP to opt out."
