"""Connecting a mailbox with OAuth ("Conectar com Google/Microsoft"): the authorization code
flow with PKCE and state, then the same verified save as an app password.

`begin` checks what can be checked before leaving LeadSync (the provider is set up, the
address is free) and returns the consent URL with what the callback must compare (kept in
the user's signed session cookie: state, PKCE verifier, whose mailbox, who started).
`finish` refuses a callback whose state or user differs, or whose consent was denied, then
exchanges the code and hands the tokens to `connect_mailbox`, which logs in to IMAP (and
SMTP) with XOAUTH2 for real before saving anything.

The mailbox's address is the one the user typed (prefilled with their own): it is the
XOAUTH2 login identity, and the provider's IMAP server refuses a token of another account,
so a successful login proves the address without asking for more scopes (id_token, userinfo).
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlmodel import Session

from dashboard.accounts.service import AccountError, normalize_email
from dashboard.db.secrets import SecretBox
from dashboard.mail.net import XOAUTH2
from dashboard.mail.oauth import OAuthFailure, authorization, exchange_code
from dashboard.mailboxes import service as mailboxes
from dashboard.mailboxes.providers import PROVIDERS
from dashboard.models import Mailbox, User
from dashboard.sync.tokens import OAuthConfig, TokenUnavailable, credentials_for, provider_for


@dataclass(frozen=True)
class PendingConnect:
    """A consent under way, kept in the session between `begin` and `finish`."""

    provider: str
    address: str
    owner_id: int
    actor_id: int
    state: str
    code_verifier: str
    redirect_uri: str

    def as_dict(self) -> dict[str, Any]:
        """For the session cookie."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> PendingConnect | None:
        """From the session cookie; None when there is nothing (valid) there."""
        try:
            return cls(**data)
        except TypeError:
            return None


class ConsentError(Exception):
    """The way back from the provider did not end in a connected mailbox; `code`: "state"
    (not the consent this user started), "denied", "provider" (the provider answered an
    error), "exchange" (the code was refused) or "not_configured"."""

    def __init__(self, code: str, detail: str = "") -> None:
        self.code, self.detail = code, detail
        super().__init__(f"{code}: {detail}" if detail else code)


def is_oauth(provider: str) -> bool:
    """True for the tiles that connect with OAuth."""
    preset = PROVIDERS.get(provider)
    return bool(preset and preset.oauth)


def begin(
    session: Session,
    *,
    provider: str,
    address: str,
    owner: User,
    actor: User,
    redirect_uri: str,
    box: SecretBox,
    config: OAuthConfig,
) -> tuple[str, PendingConnect]:
    """The consent URL to send the user to, and what to keep for the callback."""
    if not is_oauth(provider):
        raise AccountError(_l("Choose your mail provider."), "provider")
    try:
        address = normalize_email(address)
    except AccountError as error:
        raise AccountError(str(error), "address") from None
    mailboxes.ensure_address_free(session, owner, address)
    try:
        endpoints = provider_for(session, provider, config)
        credentials = credentials_for(session, provider, box)
    except TokenUnavailable:
        raise AccountError(not_configured_message(actor), "provider") from None
    pending = authorization(endpoints, credentials, redirect_uri, address)
    keep = PendingConnect(
        provider, address, owner.id, actor.id, pending.state, pending.code_verifier, redirect_uri
    )
    return pending.url, keep


def not_configured_message(viewer: User) -> str:
    """What to do when the company has not set the provider up."""
    if viewer.is_admin:
        return str(
            _l(
                "Sign-in with this provider is not set up yet: enter the app's client ID "
                "and secret in Company profile > Google and Microsoft sign-in."
            )
        )
    return str(
        _l(
            "Sign-in with this provider is not set up yet. Ask your LeadSync administrator "
            "to set it up in the Company profile."
        )
    )


def check_return(
    session: Session, pending: PendingConnect | None, actor: User, answer: dict[str, str]
) -> tuple[PendingConnect, User]:
    """The pending consent this answer belongs to, and the mailbox's owner; ConsentError
    when the state is not the one this user's session started, or the consent was denied."""
    state = answer.get("state", "")
    if pending is None or not secrets.compare_digest(state.encode(), pending.state.encode()):
        raise ConsentError("state")
    owner = session.get(User, pending.owner_id)
    if pending.actor_id != actor.id or owner is None:
        raise ConsentError("state")
    if owner.id != actor.id and not actor.is_admin:  # an admin demoted since it started
        raise ConsentError("state")
    if answer.get("error"):
        raise ConsentError("denied" if answer["error"] == "access_denied" else "provider")
    if not answer.get("code"):
        raise ConsentError("provider", "no code in the answer")
    return pending, owner


def finish(
    session: Session,
    *,
    pending: PendingConnect | None,
    answer: dict[str, str],
    actor: User,
    box: SecretBox,
    config: OAuthConfig,
    ca_file: str | None = None,
    timeout: float = 20.0,
    verifier: mailboxes.Verifier = mailboxes.verify,
    smtp_verifier: mailboxes.SmtpVerifier = mailboxes.verify_login,
) -> Mailbox:
    """Check the answer, exchange the code, verify IMAP (and SMTP) with XOAUTH2, and save;
    ConsentError, ImapError or SmtpCheckError otherwise (nothing saved then)."""
    pending, owner = check_return(session, pending, actor, answer)
    try:
        endpoints = provider_for(session, pending.provider, config)
        credentials = credentials_for(session, pending.provider, box)
    except TokenUnavailable as error:
        raise ConsentError("not_configured", error.detail) from None
    mailboxes.end_transaction_before_waiting(session)
    try:
        tokens = exchange_code(
            endpoints, credentials, redirect_uri=pending.redirect_uri, code=answer["code"],
            code_verifier=pending.code_verifier,
        )  # fmt: skip
    except OAuthFailure as failure:
        raise ConsentError("exchange", str(failure)) from None
    request = mailboxes.ConnectionRequest(
        pending.provider, pending.address, tokens.access_token, pending.address,
        endpoints.imap_host, endpoints.imap_port, endpoints.imap_security, endpoints.smtp_host,
        endpoints.smtp_port, endpoints.smtp_security, XOAUTH2,
    )  # fmt: skip
    return mailboxes.connect_mailbox(
        session, user=owner, request=request, box=box, ca_file=ca_file, timeout=timeout,
        verifier=verifier, smtp_verifier=smtp_verifier, actor=actor, tokens=tokens,
    )  # fmt: skip
