"""The audit log in people's words: an audit entry turned into the parts of one sentence
(who did what, to whom or to what, and each field's change as items added and removed or
as an old and a new value). Pure: the wording and its translation live in the template
(accounts/settings/_audit_sentence.html), the field labels in accounts/forms.py.

Every action code written by `audit.record` has an entry in ACTIONS; a code this module
does not know still becomes a sentence (known=False) that names the code."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

# action code -> the labels its fields are named with ("company", "user" or "")
ACTIONS = {
    "company.update": "company",
    "user.add": "user",
    "user.edit": "user",
    "user.activate": "user",
    "user.deactivate": "user",
    "user.reset_password": "user",
    "mailbox.connect": "",
    "mailboxes.disconnect": "",
    "template.save": "",
    "template.delete": "",
    "lead.export": "",
    "lead.erase": "",
    "oauth_app.save": "",
}
SWITCH, LIST, VALUE = "switch", "list", "value"


@dataclass(frozen=True)
class FieldChange:
    """One field's change: a switch turned on/off, items added/removed, or old → new."""

    field: str
    kind: str  # SWITCH | LIST | VALUE
    old: Any = None
    new: Any = None
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()


@dataclass(frozen=True)
class AuditSentence:
    """The parts of one audit entry's sentence."""

    action: str
    actor: str  # a person's name; "" for the command line
    subject: str = ""  # the person, mailbox address or template the action touched
    owner: str = ""  # whose mailbox, when someone else connected it
    role: str = ""  # the role a new user was given
    labels: str = ""  # which field labels name the changes
    # How many emails a lead's export or erasure held, or a removed mailbox history had
    # (None: a disconnect that kept the history).
    count: int | None = None
    changes: tuple[FieldChange, ...] = ()
    known: bool = True


def actor_name(actor: str) -> str:
    """ "Fernanda Lima <fernanda@acme.com>" -> "Fernanda Lima"; "cli" -> "" (the command line)."""
    if actor == "cli":
        return ""
    name, _, _rest = actor.partition(" <")
    return name.strip() or actor


def actor_email(actor: str) -> str:
    """The address inside "Name <address>", lower-cased; "" when there is none."""
    _name, _, rest = actor.partition(" <")
    return rest.rstrip(">").strip().lower()


def field_change(field: str, value: Any) -> FieldChange | None:
    """A diff entry ([old, new]) as a change; None for anything else (context, not a diff)."""
    if not (isinstance(value, list | tuple) and len(value) == 2):
        return None
    old, new = value
    if isinstance(old, list) or isinstance(new, list):
        before, after = [str(v) for v in old or []], [str(v) for v in new or []]
        added = tuple(v for v in after if v not in before)
        removed = tuple(v for v in before if v not in after)
        return FieldChange(field, LIST, old, new, added, removed)
    if isinstance(old, bool) or isinstance(new, bool):
        return FieldChange(field, SWITCH, old, new)
    return FieldChange(field, VALUE, old, new)


def field_changes(changes: Mapping[str, Any]) -> tuple[FieldChange, ...]:
    """Every [old, new] entry of a diff, in the order it was recorded."""
    found = (field_change(field, value) for field, value in changes.items())
    return tuple(change for change in found if change is not None)


def describe(
    action: str, actor: str, changes: Mapping[str, Any], names: Mapping[str, str] | None = None
) -> AuditSentence:
    """The sentence parts of an audit entry; `names` maps users' addresses to their names."""
    names = names or {}
    who = actor_name(actor)

    def person(address: Any) -> str:
        """A user named by the name they have now, else as the entry recorded them."""
        return names.get(str(address or "").lower()) or str(address or "?")

    if action not in ACTIONS:
        return AuditSentence(action, who, changes=field_changes(changes), known=False)
    base = AuditSentence(action, who, labels=ACTIONS[action])
    if action == "company.update":
        return replace(base, changes=field_changes(changes))
    if action == "user.add":
        subject = changes.get("name") or person(changes.get("email"))
        return replace(base, subject=str(subject), role=str(changes.get("role") or ""))
    if action.startswith("user."):
        return replace(base, subject=person(changes.get("user")), changes=field_changes(changes))
    if action == "mailbox.connect":
        owner = str(changes.get("user") or "").lower()
        someone_else = owner and owner != actor_email(actor)
        return replace(
            base, subject=str(changes.get("address") or "?"),
            owner=person(owner) if someone_else else "",
        )  # fmt: skip
    if action.startswith("lead."):  # the lead's number only: an erased lead has no name left
        emails = changes.get("emails")
        return replace(
            base, subject=f"#{changes.get('lead', '?')}",
            count=emails if isinstance(emails, int) else 0,
        )  # fmt: skip
    if action == "oauth_app.save":  # the provider's key: "google", "microsoft"
        return replace(base, subject=str(changes.get("provider") or "?"))
    if action == "mailboxes.disconnect":
        removed = changes.get("emails", 0) if changes.get("history") == "removed" else None
        return replace(base, subject=str(changes.get("address") or "?"), count=removed)
    return replace(base, subject=str(changes.get("name") or "?"))  # template.*
