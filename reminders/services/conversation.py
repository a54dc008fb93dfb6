"""The SMS conversation (docs/rules.md): one inbound message in, state changed, at most one
reply."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from reminders.domain import messages as texts
from reminders.domain import reply_limit
from reminders.domain.conversation import OPT_INS, Inbound, Keyword, read_inbound
from reminders.domain.errors import InvalidInput, QuietHoursConflict
from reminders.domain.model import (
    REPLIED,
    CheckIn,
    InboundMessage,
    OutboundMessage,
    PausedReason,
    PhoneNumber,
    Session,
    SessionStatus,
    User,
    UserStatus,
    format_wall_time,
    parse_whole_number,
)
from reminders.domain.planning import local_date, zone_for
from reminders.domain.reply_limit import Verdict, text_key
from reminders.domain.sessions import (
    adherence,
    checkin_answered_since,
    done_confirmed,
    takes_done,
    under_way,
)
from reminders.ports import UnitOfWork
from reminders.services import routine
from reminders.services.policy import Policy

logger = logging.getLogger(__name__)

NOT_ENROLLED_EVERY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class InboundResult:
    keyword: Keyword  # SORE for a skin reaction
    reply: str | None
    duplicate: bool = False
    checkin: CheckIn | None = None  # the check-in this message answered, if any


def handle_inbound(
    uow: UnitOfWork,
    policy: Policy,
    now: datetime,
    *,
    phone: PhoneNumber,
    body: str,
    message_sid: str,
    opt_out_type: str | None = None,
    answering: bool = True,
) -> InboundResult:
    """Apply one inbound SMS and return the reply to send, if any.

    Idempotent by `message_sid`: a retried webhook changes nothing and gets no reply. When
    `opt_out_type` is set, the provider has answered a STOP/START/HELP itself, so we do not.
    Without `answering` (a message kept through an outage and applied later), nothing is
    replied, recorded as replied or counted against the reply limit; and an opt-in older than
    a STOP of the user's already recorded is recorded but changes nothing (an opt-out is never
    undone by an older message)."""
    inbound = inbound_keyword(body, opt_out_type)
    checkin: CheckIn | None = None
    always = False
    user = uow.users.by_phone(phone, lock=True)
    received = InboundMessage(
        user_id=user.id if user else None,
        keyword=inbound.keyword.value,
        body=body if user else None,  # a stranger's text is not kept
        provider_sid=message_sid,
    )
    recorded = uow.messages.add_inbound(received, now)
    if not recorded:
        return InboundResult(inbound.keyword, None, duplicate=True)
    # No reply goes out when the provider answered (Advanced Opt-Out) or in a replay.
    may_answer = answering and not opt_out_type
    if user is None:
        # Told "not enrolled" only when the reply goes out: else their next YES gets it.
        reply = _stranger(uow, policy, phone, inbound, now) if may_answer else None
    elif not answering and _opt_in_older_than_a_stop(uow, user, inbound, now):
        logger.info(
            "replayed opt-in older than the user's last STOP: changes nothing",
            extra={"user_id": user.id, "keyword": inbound.keyword.value},
        )
        reply = None
    else:
        said = _member(uow, policy, user, inbound, now)
        reply, checkin, always = said.reply, said.checkin, said.always
    if not may_answer:
        reply = None
    if reply is not None and user is not None and inbound.keyword is not Keyword.STOP:
        reply = reply if always else _limited(uow, policy, phone, body, reply, now)
    if reply is not None and user is not None:
        replied = OutboundMessage(
            user_id=user.id, body=reply, status=REPLIED, keyword=inbound.keyword.value
        )
        uow.messages.add_outbound(replied, now)
    logger.info(
        "inbound SMS handled",
        extra={
            "from": phone.masked(),
            "keyword": inbound.keyword.value,
            "replied": reply is not None,
        },
    )
    return InboundResult(inbound.keyword, reply, checkin=checkin)


# Twilio's Advanced Opt-Out also knows custom and other-language keywords ("ARRET"); when it
# says a message was an opt-out, opt-in or help request, that is what it was: the carrier
# blocks our messages to an opted-out number either way.
_PROVIDER_KEYWORDS = {"STOP": Keyword.STOP, "START": Keyword.START, "HELP": Keyword.HELP}


def inbound_keyword(body: str, opt_out_type: str | None) -> Inbound:
    """How an inbound SMS is read, applied at once or kept in the spool alike: as the
    provider's Advanced Opt-Out verdict (`opt_out_type`) says when it gave one, else by its
    text (`domain.conversation.read_inbound`)."""
    keyword = _PROVIDER_KEYWORDS.get((opt_out_type or "").strip().upper())
    return Inbound(keyword) if keyword is not None else read_inbound(body)


def _opt_in_older_than_a_stop(
    uow: UnitOfWork, user: User, inbound: Inbound, received: datetime
) -> bool:
    """An opt-out is never undone by an older message: a replayed opt-in that would bring an
    opted-out user back, while a STOP of theirs received after it is recorded already (applied
    at once by another replica while this one kept the opt-in in its spool)."""
    return (
        user.status is UserStatus.OPTED_OUT
        and (inbound.keyword in OPT_INS or inbound.opt_in)
        and uow.messages.opted_out_since(user.id, received)
    )


def _limited(
    uow: UnitOfWork, policy: Policy, phone: PhoneNumber, body: str, reply: str, now: datetime
) -> str | None:
    """The reply, the limiter's last notice in its place, or None (domain/reply_limit.py)."""
    verdict, window = reply_limit.decide(uow.reply_log.window(phone), text_key(body), now)
    if verdict is Verdict.SILENT:
        logger.info(
            "auto-reply left out: replies to this number are paused", extra={"to": phone.masked()}
        )
        return None
    uow.reply_log.save_window(phone, window)
    if verdict is Verdict.LAST_NOTICE:
        logger.warning(
            "too many messages from one number: replies paused", extra={"to": phone.masked()}
        )
        return texts.limited_text(policy.brand, reply_limit.silence_minutes())
    return reply


def _stranger(
    uow: UnitOfWork, policy: Policy, phone: PhoneNumber, inbound: Inbound, now: datetime
) -> str | None:
    if inbound.keyword not in OPT_INS:
        return None
    if not uow.reply_log.claim_not_enrolled(phone, now, NOT_ENROLLED_EVERY):
        return None
    return texts.not_enrolled_text(policy.brand)


def _when(session: Session | None, user: User) -> str | None:
    if session is None:
        return None
    return texts.format_when(session.starts_at, zone_for(user.schedule.timezone))


def _member(uow: UnitOfWork, policy: Policy, user: User, inbound: Inbound, now: datetime) -> _Said:
    brand = policy.brand
    keyword = inbound.keyword
    if keyword is Keyword.STOP:
        if user.status is not UserStatus.OPTED_OUT:
            routine.stop_reminders(uow, user, UserStatus.OPTED_OUT, now)
            logger.info("user opted out", extra={"user_id": user.id})
            return _Said(texts.opted_out_text(brand))
        return _Said(None)
    if user.status is UserStatus.OPTED_OUT:
        if keyword in OPT_INS:
            session = routine.activate(uow, policy, user, now)
            return _Said(texts.resubscribed_text(brand, _when(session, user) or ""))
        if inbound.opt_in:  # "START, the redness is gone": back in, and paused to be safe
            routine.activate(uow, policy, user, now)
            user = replace(user, status=UserStatus.ACTIVE, paused_reason=None)
            return _reaction(uow, policy, user, inbound, now)
        return _Said(None)  # an opted-out number gets nothing else
    if keyword is Keyword.SORE:
        return _reaction(uow, policy, user, inbound, now)
    if keyword is Keyword.HELP:
        help_text = texts.help_text(brand, policy.help_contact, len(policy.plan.steps))
        # HELP on its own is always answered; "Help desk auto-reply: ..." is a bot's text.
        return _Said(help_text, always=not inbound.argument)
    if user.status is UserStatus.PENDING:
        if keyword in OPT_INS:
            session = routine.activate(uow, policy, user, now)
            logger.info("consent confirmed", extra={"user_id": user.id})
            return _Said(texts.welcome_text(brand, _when(session, user) or ""))
        return _Said(texts.confirm_first_text(brand))
    if keyword is Keyword.OK:
        return _checkin_ok(uow, policy, user, now)
    return _Said(_routine_command(uow, policy, user, inbound, now))


@dataclass(frozen=True, slots=True)
class _Said:
    """A member's message applied: the reply, the check-in it answered, if any, and whether
    the reply goes out whatever the reply limiter says (HELP; the advice for a reaction that
    just paused the user)."""

    reply: str | None
    checkin: CheckIn | None = None
    always: bool = False


def _reaction(
    uow: UnitOfWork, policy: Policy, user: User, inbound: Inbound, now: datetime
) -> _Said:
    """A skin reaction: the advice, and (once consent is given) reminders paused for it. A
    message that began with DONE records the session first, so that R2 counts from it."""
    logger.info("skin reaction reported", extra={"user_id": user.id})
    advice = texts.sore_text(policy.brand)
    if user.status not in (UserStatus.ACTIVE, UserStatus.PAUSED):
        return _Said(advice)  # pending or invalid: consent or a number is missing
    if inbound.done:
        upcoming = uow.sessions.upcoming(user.id)
        today = local_date(now, zone_for(user.schedule.timezone))
        if upcoming is not None and takes_done(upcoming, user.schedule, policy.plan, now):
            routine.end_session(uow, policy, user, upcoming, SessionStatus.DONE, now)
        elif user.last_session_date != today:  # not when today's session is recorded already
            routine.record_extra_done(uow, policy, user, now)
    answered = uow.sessions.awaiting_checkin(user.id, checkin_answered_since(now))
    if answered is not None:
        uow.sessions.set_checkin(answered.id, CheckIn.REACTION)
    newly = user.paused_reason is not PausedReason.SKIN_REACTION
    routine.stop_reminders(uow, user, UserStatus.PAUSED, now, PausedReason.SKIN_REACTION)
    checkin = CheckIn.REACTION if answered is not None else None
    # The advice goes out even while replies are held back, once per pause: an echo of it
    # (a reaction too) finds the user paused already and is limited as usual.
    return _Said(advice, checkin, always=newly)


def _checkin_ok(uow: UnitOfWork, policy: Policy, user: User, now: datetime) -> _Said:
    """OK, FINE, GOOD, GREAT: the answer to an open check-in, or else the keyword list."""
    answered = uow.sessions.awaiting_checkin(user.id, checkin_answered_since(now))
    if answered is None:
        return _Said(texts.keywords_text(policy.brand))
    uow.sessions.set_checkin(answered.id, CheckIn.OK)
    upcoming = uow.sessions.upcoming(user.id)
    return _Said(texts.checkin_ok_text(policy.brand, _when(upcoming, user)), CheckIn.OK)


def _streak(uow: UnitOfWork, user: User) -> int:
    return adherence(uow.sessions.outcomes(user.id)).streak


def _done(uow: UnitOfWork, policy: Policy, user: User, now: datetime) -> str:
    """DONE: ends the session under way (R9); with none under way it is asked again and
    counts as an extra session (R10) when it comes back within 10 minutes."""
    brand = policy.brand
    upcoming = uow.sessions.upcoming(user.id)
    if upcoming is not None and takes_done(upcoming, user.schedule, policy.plan, now):
        if user.done_asked_at is not None:  # an earlier question is answered by this DONE
            uow.users.set_done_asked(user.id, None)
        outcome = routine.end_session(uow, policy, user, upcoming, SessionStatus.DONE, now)
        next_session = outcome.next_session if outcome else None
        return texts.done_text(brand, _when(next_session, user), False, _streak(uow, user))
    if not done_confirmed(user.done_asked_at, now):
        uow.users.set_done_asked(user.id, now)
        return texts.done_confirm_text(brand, _when(upcoming, user))
    extra = routine.record_extra_done(uow, policy, user, now)
    streak = _streak(uow, user)
    return texts.done_text(brand, _when(extra.next_session, user), extra.too_soon, streak)


def _routine_command(
    uow: UnitOfWork, policy: Policy, user: User, inbound: Inbound, now: datetime
) -> str:
    brand = policy.brand
    keyword = inbound.keyword
    if keyword is Keyword.DONE:
        return _done(uow, policy, user, now)
    upcoming = uow.sessions.upcoming(user.id)
    if keyword is Keyword.SKIP:
        if upcoming is None:
            return texts.next_text(brand, None)
        outcome = routine.end_session(uow, policy, user, upcoming, SessionStatus.SKIPPED, now)
        next_session = outcome.next_session if outcome else None
        return texts.skipped_text(brand, _when(next_session, user) or "")
    if keyword is Keyword.LATER:
        if upcoming is None:
            return texts.next_text(brand, None)
        soon = under_way(upcoming, now)
        moved = routine.move_later(uow, policy, user, upcoming, now)
        if moved is None:
            return texts.later_refused_text(brand)
        return texts.moved_text(brand, _when(moved, user) or "", soon=soon)
    if keyword is Keyword.NEXT:
        return texts.next_text(brand, _when(upcoming, user))
    if keyword is Keyword.PAUSE:
        if user.status is UserStatus.ACTIVE:
            routine.stop_reminders(uow, user, UserStatus.PAUSED, now, PausedReason.USER)
        return texts.paused_text(brand)
    if keyword is Keyword.RESUME or keyword in OPT_INS:
        if user.status is UserStatus.ACTIVE and upcoming is not None:
            return texts.next_text(brand, _when(upcoming, user))
        session = routine.activate(uow, policy, user, now)
        return texts.resumed_text(brand, _when(session, user) or "")
    if keyword is Keyword.EVERY:
        return _every(uow, policy, user, inbound.argument, now)
    if keyword is Keyword.TIME:
        return _time(uow, policy, user, inbound.argument, now)
    return texts.keywords_text(brand)


def _every(uow: UnitOfWork, policy: Policy, user: User, argument: str, now: datetime) -> str:
    word = argument.split(" ")[0] if argument else ""
    days = parse_whole_number(word, max_digits=3)
    if days is None:
        return texts.cadence_refused_text(policy.brand)
    try:
        user = routine.change_schedule(uow, policy, user, now, cadence_days=days)
    except InvalidInput:
        return texts.cadence_refused_text(policy.brand)
    upcoming = uow.sessions.upcoming(user.id)
    return texts.cadence_text(policy.brand, user.schedule.cadence_days, _when(upcoming, user))


def _time(uow: UnitOfWork, policy: Policy, user: User, argument: str, now: datetime) -> str:
    word = argument.split(" ")[0] if argument else ""
    try:
        user = routine.change_schedule(uow, policy, user, now, session_time=word)
    except QuietHoursConflict as exc:
        return texts.time_refused_text(policy.brand, word, exc.allowed)
    except InvalidInput:
        return texts.time_help_text(policy.brand)
    upcoming = uow.sessions.upcoming(user.id)
    hhmm = format_wall_time(user.schedule.session_time)
    return texts.time_text(policy.brand, hhmm, _when(upcoming, user))
