"""Settings from the environment (prefix REMINDERS_; Twilio's own TWILIO_* names)."""

from __future__ import annotations

import ipaddress
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

from reminders.domain.checkin import DEFAULT_CHECKIN_TEXT, CheckInTiming, parse_checkin
from reminders.domain.errors import InvalidInput
from reminders.domain.messages import gsm7_length
from reminders.domain.model import E164_PATTERN
from reminders.domain.planning import (
    DEFAULT_PLAN_TEXT,
    Plan,
    QuietHours,
    allowed_session_times,
    parse_plan,
    parse_quiet_hours,
)

DEFAULT_DATABASE_URL = f"sqlite:///{Path('data') / 'reminders.db'}"
MAX_BRAND_LENGTH = 20  # with the longest values every reply stays one GSM-7 segment
MAX_HELP_CONTACT_LENGTH = 20
MIN_SQLITE = (3, 35)  # RETURNING (3.35) in claims, UPDATE ... FROM (3.33) in outcomes
# The settings the domain parses: each is checked by its parser, whose error names it.
_DOMAIN_PARSERS: dict[str, Callable[[str], object]] = {
    "plan": parse_plan,
    "checkin": parse_checkin,
    "quiet_hours": parse_quiet_hours,
}


class Settings(BaseSettings):
    """Every setting the service reads. Bad values stop start-up with one line per problem."""

    model_config = SettingsConfigDict(
        env_prefix="REMINDERS_", extra="ignore", env_file=None, populate_by_name=True
    )

    database_url: str = DEFAULT_DATABASE_URL
    admin_token: SecretStr | None = Field(default=None, min_length=16)
    host: str = "0.0.0.0"
    port: int = Field(default=8080, ge=1, le=65535)
    public_url: str = "http://localhost:8080"
    brand_name: str = Field(default="RollerCare", min_length=1, max_length=MAX_BRAND_LENGTH)
    help_contact: str = Field(
        default="help@example.com", min_length=1, max_length=MAX_HELP_CONTACT_LENGTH
    )
    default_region: str | None = None
    quiet_hours: str = "21:00-08:00"
    plan: str = DEFAULT_PLAN_TEXT
    checkin: str = DEFAULT_CHECKIN_TEXT  # when the skin check-in after a session goes out
    sms_backend: Literal["twilio", "console"] | None = None
    twilio_api_url: str | None = None  # None: Twilio's own API
    dispatch_interval_seconds: float = Field(default=1.0, gt=0, le=3600)
    dispatch_batch_size: int = Field(default=200, ge=1, le=5000)
    dispatch_concurrency: int = Field(default=8, ge=1, le=64)
    lease_seconds: int = Field(default=60, ge=10, le=3600)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Twilio webhooks kept while the database is unavailable; None: see resolved_spool_dir.
    spool_dir: Path | None = None

    twilio_account_sid: str | None = Field(
        default=None, validation_alias=AliasChoices("TWILIO_ACCOUNT_SID")
    )
    twilio_auth_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("TWILIO_AUTH_TOKEN")
    )
    twilio_from_number: str | None = Field(
        default=None, validation_alias=AliasChoices("TWILIO_FROM_NUMBER")
    )
    twilio_messaging_service_sid: str | None = Field(
        default=None, validation_alias=AliasChoices("TWILIO_MESSAGING_SERVICE_SID")
    )

    @field_validator("brand_name", "help_contact")
    @classmethod
    def _is_gsm7(cls, value: str) -> str:
        if gsm7_length(value) != len(value):
            raise ValueError(
                "must use plain GSM-7 characters (letters, digits, common punctuation; no emoji"
                " or curly quotes) so every SMS stays one segment"
            )
        return value

    @field_validator("twilio_account_sid")
    @classmethod
    def _is_account_sid(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"AC[0-9a-fA-F]{32}", value):
            raise ValueError("must be a Twilio Account SID: AC followed by 32 hex digits")
        return value

    @field_validator("twilio_messaging_service_sid")
    @classmethod
    def _is_messaging_service_sid(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"MG[0-9a-fA-F]{32}", value):
            raise ValueError("must be a Messaging Service SID: MG followed by 32 hex digits")
        return value

    @field_validator("twilio_from_number")
    @classmethod
    def _is_e164(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(E164_PATTERN, value):
            raise ValueError("must be an E.164 number such as +14155550123")
        return value

    @field_validator("plan", "checkin", "quiet_hours")
    @classmethod
    def _parses(cls, value: str, info: ValidationInfo) -> str:
        try:
            _DOMAIN_PARSERS[str(info.field_name)](value)
        except InvalidInput as exc:
            raise ValueError(exc.message) from None
        return value

    @field_validator("public_url", "twilio_api_url")
    @classmethod
    def _is_http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")) or len(value) < 10:
            raise ValueError("must be an http:// or https:// URL such as https://sms.example.com")
        return value.rstrip("/")

    @field_validator("host")
    @classmethod
    def _is_host(cls, value: str) -> str:
        if value == "localhost":
            return value
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise ValueError("must be an IP address such as 0.0.0.0 or 127.0.0.1") from None
        return value

    @field_validator("default_region")
    @classmethod
    def _is_region(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if len(value) != 2 or not value.isalpha():
            raise ValueError("must be a two-letter ISO region code such as US or GB")
        return value.upper()

    @field_validator("database_url")
    @classmethod
    def _is_database_url(cls, value: str) -> str:
        if not value.startswith(("sqlite://", "sqlite+pysqlite://", "postgresql")):
            raise ValueError(
                "must be sqlite:///path/to/file.db or postgresql+psycopg://user@host/db"
            )
        if value.startswith("postgresql://"):
            value = "postgresql+psycopg://" + value.removeprefix("postgresql://")
        if value.startswith("sqlite") and sqlite3.sqlite_version_info < MIN_SQLITE:
            raise ValueError(
                f"needs SQLite {'.'.join(map(str, MIN_SQLITE))} or newer (for UPDATE ... FROM"
                f" and RETURNING), and this Python has {sqlite3.sqlite_version}; use a newer"
                " Python build or PostgreSQL"
            )
        return value

    @field_validator("spool_dir", mode="before")
    @classmethod
    def _spool_dir_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("spool_dir")
    @classmethod
    def _is_spool_dir(cls, value: Path | None) -> Path | None:
        if value is not None and value.exists() and not value.is_dir():
            raise ValueError(f"{value} is a file, not a folder; name a folder such as data/spool")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if not allowed_session_times(self.parsed_plan, self.parsed_quiet_hours):
            raise ValueError(
                "REMINDERS_PLAN and REMINDERS_QUIET_HOURS leave no session time at which every "
                "step is outside quiet hours; shorten the plan's offsets or the quiet hours"
            )
        if self.resolved_sms_backend == "twilio":
            missing = [
                name
                for name, value in (
                    ("TWILIO_ACCOUNT_SID", self.twilio_account_sid),
                    ("TWILIO_AUTH_TOKEN", self.twilio_auth_token),
                )
                if not value
            ]
            if not (self.twilio_from_number or self.twilio_messaging_service_sid):
                missing.append("TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID")
            if missing:
                raise ValueError(
                    "REMINDERS_SMS_BACKEND=twilio needs " + ", ".join(missing) + " to be set"
                )
        return self

    @property
    def parsed_plan(self) -> Plan:
        return parse_plan(self.plan)

    @property
    def parsed_checkin(self) -> CheckInTiming | None:
        """When the check-in after a session goes out; None: no check-in."""
        return parse_checkin(self.checkin)

    @property
    def parsed_quiet_hours(self) -> QuietHours | None:
        return parse_quiet_hours(self.quiet_hours)

    @property
    def resolved_spool_dir(self) -> Path:
        """REMINDERS_SPOOL_DIR, else `spool` next to a SQLite database file (data/spool with
        the default database), else data/spool."""
        if self.spool_dir is not None:
            return self.spool_dir
        if self.database_url.startswith("sqlite"):
            database = make_url(self.database_url).database
            if database and database != ":memory:":
                return Path(database).parent / "spool"
        return Path("data") / "spool"

    @property
    def resolved_sms_backend(self) -> Literal["twilio", "console"]:
        if self.sms_backend is not None:
            return self.sms_backend
        return "twilio" if self.twilio_account_sid and self.twilio_auth_token else "console"


def describe_errors(error: ValidationError) -> list[str]:
    """One line per bad setting, naming the variable and what is accepted."""
    lines = []
    for item in error.errors():
        location = item.get("loc") or ()
        message = str(item.get("msg", "is not valid")).removeprefix("Value error, ")
        if location:
            name = str(location[0])
            variable = name if name.startswith("TWILIO_") else "REMINDERS_" + name.upper()
            lines.append(f"setting {variable}: {message}")
        else:
            lines.append(f"settings: {message}")
    return lines
