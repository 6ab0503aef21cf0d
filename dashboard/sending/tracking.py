"""Signed tokens of the open pixel and the click-tracked links (itsdangerous).

A token names the outgoing email, the recipient and, for clicks, the TrackedLink row;
it carries no URL, so the click route can only redirect to what was recorded at send
time. A tampered or malformed token reads as None. No Flask, no database.
"""

from __future__ import annotations

from dataclasses import dataclass

from itsdangerous import BadData, URLSafeSerializer

SALT = "leadsync-tracking"
KINDS = ("open", "click")
_SHORT = {"open": "o", "click": "c"}


@dataclass(frozen=True)
class TokenPayload:
    """What a valid token says: which email, which recipient and (clicks) which link."""

    kind: str  # open | click
    outgoing_id: int
    recipient: str
    link_id: int | None = None


class TrackingTokens:
    """Makes and reads tracking tokens with the app's secret key."""

    def __init__(self, secret_key: str | bytes) -> None:
        self._serializer = URLSafeSerializer(secret_key, salt=SALT)

    def open_token(self, outgoing_id: int, recipient: str) -> str:
        """The token of the open pixel of one email and recipient."""
        return self._serializer.dumps(["o", outgoing_id, recipient])

    def click_token(self, outgoing_id: int, link_id: int, recipient: str) -> str:
        """The token of one tracked link of one email and recipient."""
        return self._serializer.dumps(["c", outgoing_id, recipient, link_id])

    def read_token(self, token: str, kind: str) -> TokenPayload | None:
        """The payload of a valid token of that kind; None when tampered or malformed."""
        try:
            data = self._serializer.loads(token)
        except (BadData, UnicodeError, ValueError):
            return None
        return parse_payload(data, kind)


def _is_id(value: object) -> bool:
    """True for a positive int (bool excluded)."""
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def parse_payload(data: object, kind: str) -> TokenPayload | None:
    """Validate the decoded list of a token against the expected kind."""
    if kind not in KINDS or not isinstance(data, list) or not data or data[0] != _SHORT[kind]:
        return None
    size = 3 if kind == "open" else 4
    if len(data) != size or not _is_id(data[1]) or not isinstance(data[2], str):
        return None
    if kind == "open":
        return TokenPayload("open", data[1], data[2])
    return TokenPayload("click", data[1], data[2], data[3]) if _is_id(data[3]) else None


def pixel_url(public_url: str, token: str) -> str:
    """The absolute URL of the open pixel."""
    return f"{public_url.rstrip('/')}/t/o/{token}.gif"


def click_url(public_url: str, token: str) -> str:
    """The absolute URL a tracked link points to."""
    return f"{public_url.rstrip('/')}/t/c/{token}"
