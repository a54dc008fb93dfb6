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
def test_services_and_ports_import_only_the_standard_library_domain_ports_and_services(
    path: Path,
) -> None:
    # Imports under `if TYPE_CHECKING:` count too: a port typed by an adapter is still a
    # dependency on it.
    bad = {
        name
        for name in imports(path)
        if name.split(".")[0] not in STDLIB
        and name != "__future__"
        and not name.startswith(("reminders.domain", "reminders.ports", "reminders.services"))
    }

    assert not bad, f"{rel(path)} imports {sorted(bad)}"


def test_no_port_speaks_in_untyped_values_or_database_rows() -> None:
    tree = ast.parse((PACKAGE / "ports.py").read_text())
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    names |= {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}

    assert not names & {"Any", "Row", "RowMapping", "object"}, sorted(names & {"Any", "Row"})


@pytest.mark.parametrize("path", modules(PACKAGE), ids=rel)
def test_database_rows_stay_inside_the_adapters(path: Path) -> None:
    if "adapters" in path.relative_to(PACKAGE).parts:
        return
    tree = ast.parse(path.read_text())
    rows = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy")
        for alias in node.names
        if alias.name in {"Row", "RowMapping", "Result"}
    }

    assert not rows, f"{rel(path)} imports {sorted(rows)} from SQLAlchemy"


@pytest.mark.parametrize("path", modules(PACKAGE / "adapters"), ids=rel)
def test_adapters_never_import_services_or_entrypoints(path: Path) -> None:
    bad = {
        n for n in imports(path) if n.startswith(("reminders.services", "reminders.entrypoints"))
    }

    assert not bad, f"{rel(path)} imports {sorted(bad)}"


@pytest.mark.parametrize("path", modules(PACKAGE), ids=rel)
def test_only_the_composition_roots_read_settings(path: Path) -> None:
    allowed = {"bootstrap.py"}
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
