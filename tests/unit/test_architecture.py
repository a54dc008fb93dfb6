"""The dependency rules of the layers (README, How it is built), checked by walking the imports
with `ast`."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "reminders"
STDLIB = set(sys.stdlib_module_names)


def modules(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "migrations" not in p.parts)


def imports(path: Path, *, runtime_only: bool = False) -> set[str]:
    tree = ast.parse(path.read_text())
    type_checking_nodes: set[int] = set()
    if runtime_only:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                type_checking_nodes.update(id(n) for n in ast.walk(node))
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in type_checking_nodes:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("path", modules(PACKAGE / "domain"), ids=rel)
def test_domain_imports_only_the_standard_library_and_itself(path: Path) -> None:
    bad = {
        name
        for name in imports(path)
        if name.split(".")[0] not in STDLIB
        and not name.startswith("reminders.domain")
        and name != "__future__"
    }

    assert not bad, f"{rel(path)} imports {sorted(bad)}"


@pytest.mark.parametrize("path", modules(PACKAGE / "domain"), ids=rel)
def test_domain_never_reads_the_clock(path: Path) -> None:
    source = ast.unparse(ast.parse(path.read_text()))

    for call in (
        "datetime.now(",
        "date.today(",
        "datetime.utcnow(",
        "time.time(",
        "time.monotonic(",
    ):
        assert call not in source, f"{rel(path)} calls {call}...)"


@pytest.mark.parametrize("path", modules(PACKAGE / "services") + [PACKAGE / "ports.py"], ids=rel)
def test_services_and_ports_import_only_domain_ports_and_services(path: Path) -> None:
    bad = {
        name
        for name in imports(path, runtime_only=True)
        if name.startswith(("reminders.adapters", "reminders.entrypoints", "reminders.bootstrap"))
        or name.split(".")[0] in {"sqlalchemy", "twilio", "fastapi", "apscheduler", "config"}
    }

    assert not bad, f"{rel(path)} imports {sorted(bad)}"


@pytest.mark.parametrize("path", modules(PACKAGE / "adapters"), ids=rel)
def test_adapters_never_import_services_or_entrypoints(path: Path) -> None:
    bad = {
        n for n in imports(path) if n.startswith(("reminders.services", "reminders.entrypoints"))
    }

    assert not bad, f"{rel(path)} imports {sorted(bad)}"


@pytest.mark.parametrize("path", modules(PACKAGE), ids=rel)
def test_only_the_composition_roots_read_settings(path: Path) -> None:
    allowed = {"bootstrap.py", "cli.py"}
    if path.name in allowed:
        return

    assert "config" not in {n.split(".")[0] for n in imports(path)}, f"{rel(path)} imports config"


@pytest.mark.parametrize("path", modules(PACKAGE), ids=rel)
def test_nothing_builds_an_engine_client_or_settings_at_import_time(path: Path) -> None:
    tree = ast.parse(path.read_text())
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(node.value, ast.Call):
            called = ast.unparse(node.value.func)
            assert not called.endswith(("create_engine", "make_engine", "Settings", "Client")), (
                f"{rel(path)} calls {called} at import time"
            )
