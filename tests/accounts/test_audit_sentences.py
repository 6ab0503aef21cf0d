"""The audit log in people's words: every action code that is written becomes sentence parts
(pure, no Flask), and an unknown code still becomes a sentence."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from dashboard.accounts.audit_sentences import (
    ACTIONS,
    LIST,
    SWITCH,
    VALUE,
    AuditSentence,
    FieldChange,
    actor_name,
    describe,
)

PACKAGE = Path(__file__).resolve().parents[2] / "dashboard"
FERNANDA = "Fernanda Lima <fernanda@acme.test>"
NAMES = {"paulo@acme.test": "Paulo Souza"}

CASES = [
    (
        "company.update",
        {"never_log": [["@gmail.com"], ["@gmail.com", "@uol.com.br"]]},
        AuditSentence(
            "company.update", "Fernanda Lima", labels="company",
            changes=(FieldChange("never_log", LIST, ["@gmail.com"], ["@gmail.com", "@uol.com.br"],
                                 added=("@uol.com.br",)),),
        ),
    ),
    (
        "company.update",
        {"skip_internal": [True, False], "import_days": [30, 90], "domains": [["a.test"], []]},
        AuditSentence(
            "company.update", "Fernanda Lima", labels="company",
            changes=(
                FieldChange("skip_internal", SWITCH, True, False),
                FieldChange("import_days", VALUE, 30, 90),
                FieldChange("domains", LIST, ["a.test"], [], removed=("a.test",)),
            ),
        ),
    ),
    (
        "oauth_app.save",
        {"provider": "microsoft", "client_id": "abc-123", "secret": "changed"},
        AuditSentence("oauth_app.save", "Fernanda Lima", "microsoft"),
    ),
    (
        "user.add",
        {"name": "Paulo Souza", "email": "paulo@acme.test", "role": "rep"},
        AuditSentence("user.add", "Fernanda Lima", "Paulo Souza", role="rep", labels="user"),
    ),
    (
        "user.add",  # recorded before the name was
        {"email": "Paulo@acme.test", "role": "admin"},
        AuditSentence("user.add", "Fernanda Lima", "Paulo Souza", role="admin", labels="user"),
    ),
    (
        "user.edit",
        {"user": "paulo@acme.test", "role": ["rep", "admin"]},
        AuditSentence(
            "user.edit", "Fernanda Lima", "Paulo Souza", labels="user",
            changes=(FieldChange("role", VALUE, "rep", "admin"),),
        ),
    ),
    (
        "user.activate",
        {"user": "paulo@acme.test"},
        AuditSentence("user.activate", "Fernanda Lima", "Paulo Souza", labels="user"),
    ),
    (
        "user.deactivate",
        {"user": "gone@acme.test"},  # no longer a user: named as recorded
        AuditSentence("user.deactivate", "Fernanda Lima", "gone@acme.test", labels="user"),
    ),
    (
        "user.reset_password",
        {"user": "paulo@acme.test"},
        AuditSentence("user.reset_password", "Fernanda Lima", "Paulo Souza", labels="user"),
    ),
    (
        "mailbox.connect",
        {"user": "fernanda@acme.test", "address": "fernanda@x.com.br", "provider": "gmail"},
        AuditSentence("mailbox.connect", "Fernanda Lima", "fernanda@x.com.br"),
    ),
    (
        "mailbox.connect",  # someone else's mailbox
        {"user": "paulo@acme.test", "address": "paulo@x.com.br", "provider": "other"},
        AuditSentence("mailbox.connect", "Fernanda Lima", "paulo@x.com.br", owner="Paulo Souza"),
    ),
    (
        "mailboxes.disconnect",
        {"address": "paulo@x.com.br"},
        AuditSentence("mailboxes.disconnect", "Fernanda Lima", "paulo@x.com.br"),
    ),
    (
        "mailboxes.disconnect",  # with its history removed
        {"address": "paulo@x.com.br", "history": "removed", "emails": 2340, "leads": 3},
        AuditSentence("mailboxes.disconnect", "Fernanda Lima", "paulo@x.com.br", count=2340),
    ),
    (
        "template.save",
        {"name": "Primeiro contato"},
        AuditSentence("template.save", "Fernanda Lima", "Primeiro contato"),
    ),
    (
        "template.delete",
        {"name": "Primeiro contato"},
        AuditSentence("template.delete", "Fernanda Lima", "Primeiro contato"),
    ),
    (
        "lead.export",
        {"lead": 123, "emails": 57},
        AuditSentence("lead.export", "Fernanda Lima", "#123", count=57),
    ),
    (
        "lead.erase",
        {"lead": 123, "emails": 1},
        AuditSentence("lead.erase", "Fernanda Lima", "#123", count=1),
    ),
]  # fmt: skip


@pytest.mark.parametrize(("action", "changes", "expected"), CASES)
def test_each_action_becomes_sentence_parts(action, changes, expected) -> None:  # type: ignore[no-untyped-def]
    assert describe(action, FERNANDA, changes, NAMES) == expected


def test_every_action_code_has_a_case() -> None:
    assert {action for action, _, _ in CASES} == set(ACTIONS)


def written_action_codes() -> set[str]:
    """The action codes passed to audit.record anywhere in the app (a literal, or a name
    assigned literals in the same module)."""
    codes: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        literals: dict[str, set[str]] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
                found = {c.value for c in ast.walk(node.value) if isinstance(c, ast.Constant)}
                literals.setdefault(node.targets[0].id, set()).update(
                    v for v in found if isinstance(v, str)
                )
        for node in ast.walk(tree):
            call = node if isinstance(node, ast.Call) else None
            func = call.func if call else None
            if not (isinstance(func, ast.Attribute) and func.attr == "record" and call):
                continue
            if not (isinstance(func.value, ast.Name) and func.value.id == "audit"):
                continue
            action = call.args[2]
            if isinstance(action, ast.Constant):
                codes.add(action.value)
            elif isinstance(action, ast.Name):
                codes.update(literals[action.id])
    return codes


def test_every_action_code_the_app_writes_has_words() -> None:
    written = written_action_codes()
    assert {"company.update", "user.activate", "user.deactivate"} <= written  # the finder works
    assert written <= set(ACTIONS)


def test_an_unknown_code_still_reads_as_a_sentence() -> None:
    sentence = describe("lead.merge", FERNANDA, {"into": 7, "name": ["A", "B"]})
    assert sentence == AuditSentence(
        "lead.merge", "Fernanda Lima", changes=(FieldChange("name", VALUE, "A", "B"),), known=False
    )


def test_a_list_change_keeps_the_order_of_what_was_added_and_removed() -> None:
    sentence = describe("company.update", FERNANDA, {"never_log": [["a", "b"], ["c", "a", "d"]]})
    assert sentence.changes[0].added == ("c", "d") and sentence.changes[0].removed == ("b",)


@pytest.mark.parametrize(
    ("actor", "name"),
    [(FERNANDA, "Fernanda Lima"), ("cli", ""), ("Ana <ana@x.test>", "Ana"), ("odd", "odd")],
)
def test_the_actor_is_named_by_their_name(actor: str, name: str) -> None:
    assert actor_name(actor) == name


def test_the_command_line_connecting_a_mailbox_names_its_owner() -> None:
    changes = {"user": "paulo@acme.test", "address": "paulo@x.com.br"}
    sentence = describe("mailbox.connect", "cli", changes, NAMES)
    assert (sentence.actor, sentence.subject, sentence.owner) == (
        "",
        "paulo@x.com.br",
        "Paulo Souza",
    )
