"""R4, R5: the plan and its parsing."""

from datetime import timedelta

import pytest

from reminders.domain.errors import InvalidPlan
from reminders.domain.model import Step
from reminders.domain.planning import DEFAULT_PLAN, PlanStep, parse_plan


def test_default_plan_is_heads_up_makeup_removal_peeling_roll() -> None:
    assert DEFAULT_PLAN.steps == (
        PlanStep(Step.HEADS_UP, days=1),
        PlanStep(Step.MAKEUP_REMOVAL, before=timedelta(minutes=45)),
        PlanStep(Step.PEELING, before=timedelta(minutes=20)),
        PlanStep(Step.ROLL),
    )


def test_plan_round_trips_through_its_text() -> None:
    plan = parse_plan("roll@0s,peeling@-2s,makeup_removal@-1h")

    assert str(plan) == "makeup_removal@-3600s,peeling@-2s,roll@0s"
    assert parse_plan(str(plan)) == plan


def test_steps_can_be_turned_off() -> None:
    assert [s.step for s in parse_plan("peeling@-20m,roll@0s").steps] == [Step.PEELING, Step.ROLL]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "at least 'roll@0s'"),
        ("heads_up@-1d", "must contain 'roll@0s'"),
        ("roll@-5m", "must contain 'roll@0s'"),
        ("roll@0s,massage@-5m", "step 'massage' is unknown"),
        ("roll@0s,peeling@-5m,peeling@-6m", "names 'peeling' twice"),
        ("roll@0s,peeling@5m", "offset '5m' of 'peeling'"),
        ("roll@0s,peeling@-5x", "offset '-5x'"),
        ("roll@0s,peeling", "offset '' of 'peeling'"),
        ("roll@0s,heads_up@-9d", "more than 7 days"),
        ("roll@0s,consent_request@-1m", "unknown"),
    ],
)
def test_bad_plan_is_refused_with_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(InvalidPlan, match=None) as error:
        parse_plan(text)

    assert says in str(error.value)
    assert "REMINDERS_PLAN" in str(error.value)


def test_an_offset_in_another_scripts_digits_is_refused() -> None:
    with pytest.raises(InvalidPlan):
        parse_plan("roll@0s,peeling@-\u0661m")  # an Arabic-Indic one
