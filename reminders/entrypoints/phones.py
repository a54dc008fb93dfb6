"""Phone numbers at the edge: parse and normalise with `phonenumbers`, infer a time zone; the
use cases take the PhoneNumber and the zone."""

from __future__ import annotations

import phonenumbers
from phonenumbers import timezone as phone_timezones

from reminders.domain.errors import InvalidInput
from reminders.domain.model import PhoneNumber


def parse_phone(text: str, default_region: str | None, field: str = "phone") -> PhoneNumber:
    """E.164, or a national number read with `default_region`. Raises InvalidInput naming the
    field (the rejected number itself is never echoed)."""
    accepted = "an E.164 number such as +14155550123"
    if default_region:
        accepted += f", or a national number of region {default_region}"
    try:
        parsed = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException:
        raise InvalidInput(field, f"{field} is not a phone number; give {accepted}") from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidInput(field, f"{field} is not a valid phone number; give {accepted}")
    return PhoneNumber(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


def single_timezone(phone: PhoneNumber) -> str | None:
    """The IANA zone of the number when it maps to exactly one, else None."""
    zones = phone_timezones.time_zones_for_number(phonenumbers.parse(phone.e164))
    real = [z for z in zones if z != "Etc/Unknown"]
    return real[0] if len(real) == 1 else None


def phone_and_zone(
    text: str, default_region: str | None, timezone: str | None
) -> tuple[PhoneNumber, str]:
    """The number to enrol, and its zone: the one given, else the number's only one. Raises
    InvalidInput naming `phone`, or `timezone` when none is given and the number's country has
    several."""
    phone = parse_phone(text, default_region)
    zone = timezone if timezone is not None else single_timezone(phone)
    if zone is None:
        raise InvalidInput(
            "timezone",
            "timezone is required for this number, whose country has several time zones; "
            "give an IANA name such as 'America/New_York'",
        )
    return phone, zone
