"""The architecture, read from the import lines: feature packages that import only downwards,
no cycles, no hidden imports inside functions, pure rule modules, and a mail layer that knows
neither Flask nor the database."""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dashboard import create_app

PACKAGE = Path(__file__).resolve().parents[1] / "dashboard"

# A package may import its own modules and those of lower ranks, never a sibling of its rank.
RANKS = {
    "config": 0,
    "states": 0,
    "mail": 0,
    "models": 1,
    "db": 2,
    "sync": 3,
    "web": 4,
    "accounts": 5,
    "mailboxes": 6,
    "leads": 6,
    "emails": 7,
    "sending": 8,
    "cli": 9,
}
PURE = [
    "states.py",
    "sync/rules.py",
    "sync/accounting.py",
    "sync/idle_rules.py",
    "mail/fingerprint.py",
    "mail/parse.py",
    "mail/mime.py",
    "leads/text.py",
    "sync/search_text.py",
    "leads/access.py",
    "leads/selection.py",
    "accounts/audit_sentences.py",
    "emails/sanitize.py",
    "emails/styles.py",
    "sending/compose.py",
    "mail/addresses.py",
    "mail/net.py",
    "mail/targets.py",
    "mail/folders.py",
    "mail/threads.py",
    "mail/files.py",
    "mail/body_text.py",
]
# The scheduler is the sync's one Flask-aware module: it is built by the app factory.
NO_FLASK = [
    "sync/engine.py",
    "sync/runner.py",
    "sync/store",
    "sync/rules.py",
    "mail",
    "db/engine.py",
    "db/migrate.py",
    "db/secrets.py",
    "sending/outgoing.py",
    "sending/delivery.py",
    "sending/queue.py",
    "sending/events.py",
    "leads/review.py",
    "leads/selection.py",
]
IMAP_LAYER = {"mail/imap_client.py", "mail/imap_fetch.py"}


def modules() -> Iterator[Path]:
    """Every module of the app, migrations left out (Alembic loads them by path)."""
    for path in sorted(PACKAGE.rglob("*.py")):
        if "migrations" not in path.relative_to(PACKAGE).parts:
            yield path


def module_name(path: Path) -> str:
    """dashboard.sync.rules for dashboard/sync/rules.py; dashboard.db for its __init__."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, *, top_level: bool | None = None) -> set[str]:
    """Modules the file imports (`from a import b` counts as a.b when that is a module)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if top_level is not None and (getattr(node, "col_offset", 0) == 0) != top_level:
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(
                f"{node.module}.{alias.name}"
                for alias in node.names
                if (PACKAGE.parent / node.module.replace(".", "/") / f"{alias.name}.py").exists()
            )
    return names


def own(names: set[str]) -> set[str]:
    """Only the app's own modules."""
    return {n for n in names if n == "dashboard" or n.startswith("dashboard.")}


def feature(module: str) -> str:
    """The top-level package (or module) a dotted name belongs to."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def files(selector: str) -> list[Path]:
    """The modules named by a path relative to dashboard/: a file or a whole package."""
    target = PACKAGE / selector
    return sorted(target.rglob("*.py")) if target.is_dir() else [target]


@pytest.mark.parametrize("module", PURE)
def test_pure_modules_import_only_the_standard_library(module: str) -> None:
    allowed = set(sys.stdlib_module_names) | {"__future__", "nh3"}
    pure = {module_name(PACKAGE / m) for m in PURE}  # pure modules may use each other
    outside = {
        n
        for n in imports(PACKAGE / module)
        if n.split(".")[0] not in allowed and n not in pure and n != "dashboard.mail"
    }
    assert outside == set()


@pytest.mark.parametrize("selector", NO_FLASK)
def test_the_engine_storage_and_mail_layers_never_import_flask(selector: str) -> None:
    for path in files(selector):
        assert not {n for n in imports(path) if n.split(".")[0].startswith("flask")}, path


def test_the_mail_layer_knows_no_database_and_no_feature() -> None:
    for path in files("mail"):
        names = imports(path)
        assert not {n for n in names if n.split(".")[0] in {"sqlalchemy", "sqlmodel"}}, path
        assert {feature(n) for n in own(names)} <= {"mail"}, path


def test_only_the_imap_layer_imports_imapclient() -> None:
    users = {
        str(p.relative_to(PACKAGE))
        for p in modules()
        if any(n.split(".")[0] == "imapclient" for n in imports(p))
    }
    assert users == IMAP_LAYER


def test_every_module_belongs_to_a_ranked_package() -> None:
    assert {feature(module_name(p)) for p in modules()} - {""} == set(RANKS)


def test_packages_import_only_downwards() -> None:
    upward = []
    for path in modules():
        source = feature(module_name(path))
        if not source:
            continue  # the app factory wires everything together
        for target in {feature(n) for n in own(imports(path))} - {source, ""}:
            if RANKS[target] >= RANKS[source]:
                upward.append(f"{module_name(path)} -> {target}")
    assert upward == []


def test_services_never_import_views() -> None:
    """Views may nest their sibling views; nothing else reaches up into a view module."""
    offenders = []
    for path in modules():
        if path.name.endswith("views.py") or path.parent == PACKAGE:
            continue
        offenders += [
            f"{module_name(path)} -> {n}"
            for n in own(imports(path))
            if n.rsplit(".", 1)[-1].endswith("views")
        ]
    assert offenders == []


def test_no_function_local_imports_of_the_app_outside_the_factory() -> None:
    local = {
        module_name(p): own(imports(p, top_level=False))
        for p in modules()
        if p != PACKAGE / "__init__.py"
    }
    assert {name: found for name, found in local.items() if found} == {}


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every back edge found by a depth-first walk, as the loop it closes."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*trail[trail.index(nxt) :], nxt])
            elif nxt in graph and not state.get(nxt):
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for name in sorted(graph):
        if not state.get(name):
            visit(name, [name])
    return cycles


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycles(graph) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_the_module_graph_has_no_cycles() -> None:
    graph = {
        module_name(p): own(imports(p, top_level=True)) - {"dashboard"}
        for p in modules()
        if p != PACKAGE / "__init__.py"
    }
    assert find_cycles(graph) == []


def test_each_blueprint_is_named_after_its_package_or_module(tmp_path: Path) -> None:
    """A feature's blueprint lives in <package>/views.py and is named <package>; a child
    blueprint lives in <package>/<name>_views.py and is named <name>. A blueprint may be
    mounted a second time inside another of its package (the mailbox views under the
    admins' team console): it keeps its own name there."""
    app = create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path)})
    try:
        for name, blueprint in app.blueprints.items():
            package = blueprint.import_name.split(".")[1]
            own = blueprint.name
            expected = (
                f"dashboard.{own}.views" if own == package else f"dashboard.{package}.{own}_views"
            )
            assert blueprint.import_name == expected, name
            assert name.rpartition(".")[2] == own, name
            outermost = app.blueprints[name.partition(".")[0]]
            assert outermost.import_name.split(".")[1] == package, name
    finally:
        app.extensions["leadsync.engine"].dispose()
