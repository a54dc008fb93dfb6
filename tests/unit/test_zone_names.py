"""Time zones are IANA names the zone database lists: not the right/ and posix/ copies, not a
file that merely happens to lie under the zone directories."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from reminders.domain.errors import InvalidInput
from reminders.domain.planning import zone_for

# Every zone the test suite plans in, and a few with unusual offsets.
ZONES = [
    "America/New_York",
    "America/Los_Angeles",
    "America/Santiago",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Kyiv",
    "Australia/Lord_Howe",
    "Australia/Sydney",
    "Asia/Kathmandu",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "Pacific/Chatham",
    "UTC",
]


@pytest.mark.parametrize("name", ZONES)
def test_an_iana_name_gives_its_zone(name: str) -> None:
    assert zone_for(name) == ZoneInfo(name)


@pytest.mark.parametrize(
    "name",
    [
        "right/UTC",
        "right/America/New_York",
        "posix/UTC",
        "posix/Europe/London",
        "localtime",
        "Factory",
        "EST",
        "europe/london",
        "Europe/London ",
        "Europe/London\x00",
        "America/New_York/",
        "/usr/share/zoneinfo/UTC",
        "../zoneinfo/UTC",
        "Mars/Base",
        "",
    ],
)
def test_anything_else_is_refused_naming_the_field(name: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        zone_for(name, "timezone")

    assert refused.value.field == "timezone"
    assert str(refused.value) == (
        f"timezone '{name[:40]}' is not an IANA name such as 'Europe/Kyiv'"
    )
