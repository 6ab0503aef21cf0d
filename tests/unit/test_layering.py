"""Layering rules, read from the import lines: the pure modules stay pure, the engine never
knows Flask, and only the IMAP layer talks to imapclient."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "dashboard"
PURE = [
    "sync/rules.py",
    "sync/parse.py",
    "sync/mime.py",
    "text.py",
    "bodies.py",
    "sending/compose.py",
]
NO_FLASK = [
    "sync/engine.py",
    "sync/store.py",
    "sync/runner.py",
    "sync/imap_client.py",
    "sync/imap_fetch.py",
    "sending/smtp_client.py",
    "sending/service.py",
]
IMAP_LAYER = {"sync/imap_client.py", "sync/imap_fetch.py"}


def imported(path: Path) -> set[str]:
    """Top-level names of every module the file imports."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def module_name(relative: str) -> str:
    """dashboard.sync.rules for "sync/rules.py"."""
    return "dashboard." + relative.removesuffix(".py").replace("/", ".")


@pytest.mark.parametrize("module", PURE)
def test_pure_modules_import_only_the_standard_library(module: str) -> None:
    allowed = set(sys.stdlib_module_names) | {"__future__", "nh3"}
    pure = {module_name(m) for m in PURE}  # pure modules may use each other
    outside = {
        n for n in imported(PACKAGE / module) if n.split(".")[0] not in allowed and n not in pure
    }
    assert outside == set()


@pytest.mark.parametrize("module", NO_FLASK)
def test_the_engine_and_senders_never_import_flask(module: str) -> None:
    assert not {n for n in imported(PACKAGE / module) if n.split(".")[0].startswith("flask")}


def test_only_the_imap_layer_imports_imapclient() -> None:
    users = {
        str(p.relative_to(PACKAGE))
        for p in PACKAGE.rglob("*.py")
        if any(n.split(".")[0] == "imapclient" for n in imported(p))
    }
    assert users == IMAP_LAYER
