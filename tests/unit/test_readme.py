"""The README's two commands stay true: CI runs exactly its test command."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def commands() -> list[str]:
    lines = (ROOT / "README.md").read_text().splitlines()
    return [lines[i + 1] for i, line in enumerate(lines) if line == "```sh"][:2]


def test_readme_starts_with_a_run_command_and_a_test_command() -> None:
    run, test = commands()

    assert run.endswith("python run_service.py")
    assert test.endswith("python -m pytest")


def test_ci_runs_exactly_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text().splitlines()

    assert commands()[1] in ci
