"""Properties of the container image, read from the Dockerfile with dockerfile-parse.

The image itself is built and run by scripts/container-smoke; these checks are the quick ones."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from dockerfile_parse import DockerfileParser  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

Instruction = dict[str, Any]


@pytest.fixture(scope="module")
def instructions() -> list[Instruction]:
    parser = DockerfileParser(fileobj=io.BytesIO(DOCKERFILE.read_bytes()), env_replace=False)
    return [i for i in parser.structure if i["instruction"] != "COMMENT"]


def stages(instructions: list[Instruction]) -> list[list[Instruction]]:
    """Instructions grouped by build stage, each group starting with its FROM."""
    found: list[list[Instruction]] = []
    for instruction in instructions:
        if instruction["instruction"] == "FROM":
            found.append([])
        if found:
            found[-1].append(instruction)
    return found


def final_stage(instructions: list[Instruction]) -> list[Instruction]:
    return stages(instructions)[-1]


def values(stage: list[Instruction], name: str) -> list[str]:
    return [i["value"].strip() for i in stage if i["instruction"] == name]


def exec_form(value: str) -> list[str] | None:
    """The argument list of an exec-form (JSON array) instruction, or None for shell form."""
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        return None
    if isinstance(parsed, list) and parsed and all(isinstance(a, str) for a in parsed):
        return parsed
    return None


def base_image_default(instructions: list[Instruction]) -> str | None:
    for instruction in instructions:
        if instruction["instruction"] == "FROM":
            break
        name, _, default = instruction["value"].strip().partition("=")
        if instruction["instruction"] == "ARG" and name == "BASE_IMAGE":
            return default.strip().strip("\"'") or None
    return None


def test_base_image_build_argument_is_declared_before_the_first_stage(
    instructions: list[Instruction],
) -> None:
    assert base_image_default(instructions) is not None


def test_base_image_default_is_pinned_to_a_tag_other_than_latest(
    instructions: list[Instruction],
) -> None:
    default = base_image_default(instructions) or ""
    name, _, digest = default.partition("@")
    tag = name.rsplit("/", 1)[-1].partition(":")[2]
    assert digest.startswith("sha256:") or (tag and tag != "latest"), default


def test_every_stage_starts_from_the_base_image_argument(
    instructions: list[Instruction],
) -> None:
    froms = [stage[0]["value"].split()[0] for stage in stages(instructions)]
    assert froms and all(image in ("${BASE_IMAGE}", "$BASE_IMAGE") for image in froms), froms


def test_dependencies_are_installed_into_a_virtualenv_copied_from_a_build_stage(
    instructions: list[Instruction],
) -> None:
    all_stages = stages(instructions)
    assert len(all_stages) >= 2
    build_runs = " ".join(v for stage in all_stages[:-1] for v in values(stage, "RUN"))
    assert "-m venv /opt/venv" in build_runs
    assert re.search(r"/opt/venv/bin/pip install[^&]* \.(\s|$)", build_runs), build_runs
    copies = values(final_stage(instructions), "COPY")
    assert any(c.startswith("--from=") and "/opt/venv" in c for c in copies), copies


def test_pip_trusts_the_optional_ca_build_secret(instructions: list[Instruction]) -> None:
    pip_runs = [v for v in values(instructions, "RUN") if "pip install" in v]
    assert pip_runs
    for run in pip_runs:
        assert "--mount=type=secret,id=ca,required=false" in run, run
        assert "PIP_CERT=/run/secrets/ca" in run, run


def test_final_stage_runs_as_a_non_root_user(instructions: list[Instruction]) -> None:
    users = values(final_stage(instructions), "USER")
    assert users, "no USER in the final stage"
    user, _, group = users[-1].partition(":")
    assert user not in ("", "root", "0"), users[-1]
    assert group not in ("root", "0"), users[-1]


def test_healthcheck_probes_healthz_in_exec_form_without_extra_tools(
    instructions: list[Instruction],
) -> None:
    checks = values(final_stage(instructions), "HEALTHCHECK")
    assert len(checks) == 1
    match = re.search(r"\bCMD\s+(\[.*\])\s*$", checks[0])
    assert match, checks[0]
    command = exec_form(match.group(1))
    assert command is not None, checks[0]
    assert command[0].startswith("/opt/venv/bin/python")
    assert "/healthz" in " ".join(command)
    assert not {"curl", "wget"} & set(re.findall(r"[\w-]+", " ".join(command)))


def test_container_command_runs_run_service_in_exec_form(
    instructions: list[Instruction],
) -> None:
    stage = final_stage(instructions)
    forms = values(stage, "ENTRYPOINT")[-1:] + values(stage, "CMD")[-1:]
    assert forms
    commands = [exec_form(form) for form in forms]
    assert all(command is not None for command in commands), forms
    arguments = [argument for command in commands for argument in command or []]
    assert any(argument.endswith("run_service.py") for argument in arguments), arguments


def test_run_service_is_copied_into_the_final_image(instructions: list[Instruction]) -> None:
    copies = values(final_stage(instructions), "COPY")
    assert any("run_service.py" in c.split() for c in copies), copies


def test_sqlite_data_directory_is_a_volume_under_the_working_directory(
    instructions: list[Instruction],
) -> None:
    stage = final_stage(instructions)
    workdir = values(stage, "WORKDIR")[-1]
    volumes: list[str] = []
    for value in values(stage, "VOLUME"):
        volumes += exec_form(value) or value.split()
    # the default database URL sqlite:///data/reminders.db is relative to the working directory
    assert f"{workdir.rstrip('/')}/data" in volumes, (workdir, volumes)


def test_data_directory_is_owned_by_the_service_user_before_the_volume_is_declared(
    instructions: list[Instruction],
) -> None:
    stage = final_stage(instructions)
    names = [i["instruction"] for i in stage]
    volume_at = names.index("VOLUME")
    chowns = [
        i["value"] for i in stage[:volume_at] if i["instruction"] == "RUN" and "chown" in i["value"]
    ]
    assert any("/data" in c for c in chowns), chowns


def test_service_port_8080_is_exposed(instructions: list[Instruction]) -> None:
    exposed = " ".join(values(final_stage(instructions), "EXPOSE")).split()
    assert "8080" in exposed or "8080/tcp" in exposed, exposed


def test_dockerignore_keeps_local_environments_data_and_caches_out_of_the_context() -> None:
    patterns = {
        line.strip().rstrip("/")
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    expected = {".venv", ".git", "data", "node_modules", "bench/results", "**/__pycache__"}
    assert expected <= patterns, expected - patterns
