"""Connecting a user's mailbox: validate, verify against the real servers, store encrypted.

Only a verified account is saved: the IMAP login (the sync), then the SMTP login with the
same secret (smart emails leave through it), one after the other, so a wrong SMTP server
fails on "Salvar" and not at the first send. An "other IMAP" mailbox with no SMTP server
only syncs: nothing to check, and compose says it cannot send. Plain functions over a
session; the web page and the CLI both call `connect_mailbox`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from flask_babel import lazy_gettext as _l
from sqlmodel import Session, col, select

from dashboard.accounts import audit
from dashboard.accounts.service import AccountError, get_company, normalize_email
from dashboard.db.secrets import SecretBox
from dashboard.mail.folders import syncable_folders
from dashboard.mail.imap_client import ImapError, VerifyResult, verify
from dashboard.mail.net import PASSWORD, XOAUTH2, ServerSettings, is_loopback_host
from dashboard.mail.oauth import TokenSet
from dashboard.mail.smtp_client import SendError, SmtpSettings, verify_login
from dashboard.mailboxes import history
from dashboard.mailboxes.history import HistoryRemoval
from dashboard.mailboxes.providers import PROVIDERS, SECURITY_CHOICES
from dashboard.models import Mailbox, MailboxEvent, User, utcnow
from dashboard.states import MailboxStatus
from dashboard.sync.tokens import store_tokens

Verifier = Callable[[ServerSettings], VerifyResult]
SmtpVerifier = Callable[[SmtpSettings], None]


class SmtpCheckError(Exception):
    """Saving stopped: the SMTP server refused the login the mailbox would send with."""

    def __init__(self, error: SendError, host: str, port: int) -> None:
        self.code, self.detail, self.host, self.port = str(error.code), error.detail, host, port
        super().__init__(f"SMTP {self.code}: {self.detail}")


@dataclass
class ConnectionRequest:
    """What the user typed on "Sobre a sincronização" (or passed to the CLI)."""

    provider: str
    address: str
    password: str
    username: str = ""
    imap_host: str = ""
    imap_port: int | None = None
    imap_security: str = "tls"
    smtp_host: str = ""
    smtp_port: int | None = None
    smtp_security: str = "tls"
    # XOAUTH2: `password` is an access token and the servers come from the OAuth provider
    # (mailboxes/oauth.py fills them, endpoint overrides included).
    auth: str = PASSWORD


def clean_password(password: str) -> str:
    """Drop the spaces Google shows between the groups of an app password."""
    return "".join(password.split())


def check_port(port: int | None, field: str) -> int:
    """A TCP port number, or AccountError."""
    if port is None or not 1 <= int(port) <= 65535:
        raise AccountError(_l("Enter a port from 1 to 65535."), field)
    return int(port)


def check_server(host: str, port: int | None, security: str, prefix: str) -> tuple[str, int, str]:
    """Validate host, port and security of a custom server; plain text only on loopback."""
    host = host.strip().lower()
    if not host or any(c.isspace() for c in host) or "/" in host:
        raise AccountError(_l("Enter the server name, e.g. mail.example.com."), f"{prefix}_host")
    if security not in SECURITY_CHOICES:
        raise AccountError(_l("Choose TLS or STARTTLS."), f"{prefix}_security")
    if security == "none" and not is_loopback_host(host):
        raise AccountError(
            _l(
                "Unencrypted connections are only allowed to this machine "
                "(localhost). Choose TLS or STARTTLS."
            ),
            f"{prefix}_security",
        )
    return host, check_port(port, f"{prefix}_port"), security


def normalized(request: ConnectionRequest) -> ConnectionRequest:
    """Validate the request and fill the provider's servers; raise AccountError when wrong."""
    preset = PROVIDERS.get(request.provider)
    if preset is None:
        raise AccountError(_l("Choose your mail provider."), "provider")
    try:
        address = normalize_email(request.address)
    except AccountError as error:
        raise AccountError(str(error), "address") from None
    if preset.oauth != (request.auth == XOAUTH2):
        raise AccountError(
            _l("Use the “Connect with %(provider)s” button: this provider takes no password.",
               provider=preset.name)
            if preset.oauth else _l("Choose your mail provider."),
            "provider",
        )  # fmt: skip
    password = clean_password(request.password)
    if not password:
        raise AccountError(_l("Enter the app password."), "password")
    if preset.oauth:
        return replace(request, address=address, username=address)
    if not preset.custom:
        return ConnectionRequest(
            preset.key,
            address,
            password,
            request.username.strip() or address,
            preset.imap_host,
            preset.imap_port,
            preset.imap_security,
            preset.smtp_host,
            preset.smtp_port,
            preset.smtp_security,
        )
    imap = check_server(request.imap_host, request.imap_port, request.imap_security, "imap")
    smtp: tuple[str, int | None, str] = ("", None, "")  # no SMTP server: sync only
    if request.smtp_host.strip():
        smtp = check_server(
            request.smtp_host, request.smtp_port or 465, request.smtp_security, "smtp"
        )
    username = request.username.strip() or address
    return ConnectionRequest("other", address, password, username, *imap, *smtp)


def allows_local_servers(session: Session) -> bool:
    """Whether the company lets mailboxes use servers on this machine or the local network."""
    company = get_company(session)
    return bool(company and company.allow_local_servers)


def server_settings(
    request: ConnectionRequest, *, ca_file: str | None, timeout: float, allow_local: bool
) -> ServerSettings:
    """IMAP settings for a normalized request."""
    return ServerSettings(
        request.imap_host,
        request.imap_port,
        request.imap_security,
        request.username,
        request.password,
        ca_file,
        timeout,
        allow_local,
        request.auth,
    )


def smtp_settings(
    request: ConnectionRequest, *, ca_file: str | None, timeout: float, allow_local: bool
) -> SmtpSettings:
    """SMTP settings for a normalized request that has an SMTP server."""
    return SmtpSettings(
        request.smtp_host,
        request.smtp_port or 0,
        request.smtp_security,
        request.username,
        request.password,
        ca_file,
        timeout,
        allow_local,
        request.auth,
    )


def check_smtp(
    session: Session,
    user: User,
    request: ConnectionRequest,
    *,
    ca_file: str | None,
    timeout: float,
    smtp_verifier: SmtpVerifier,
    allow_local: bool,
) -> None:
    """Log in on the SMTP server with the same secret; on failure log the answer, commit the
    log line (nothing else was written) and raise SmtpCheckError."""
    settings = smtp_settings(request, ca_file=ca_file, timeout=timeout, allow_local=allow_local)
    try:
        smtp_verifier(settings)
    except SendError as error:
        log_event(
            session, user.id, mailbox_of(session, user.id), "smtp_verify_failed", str(error.code),
            error.detail,
        )  # fmt: skip
        session.commit()
        raise SmtpCheckError(error, settings.host, settings.port) from error


def mailbox_settings(
    mailbox: Mailbox,
    box: SecretBox,
    *,
    ca_file: str | None,
    timeout: float,
    allow_local: bool,
    access_token: str | None = None,
) -> ServerSettings:
    """IMAP settings of a stored mailbox, with its secret decrypted for this use only. An
    OAuth mailbox logs in with `access_token` (made fresh by the caller), else with the one
    the last sync round stored (attachments, counts: it outlives most rounds' intervals)."""
    if mailbox.auth == XOAUTH2:
        stored = box.decrypt(mailbox.access_token) if mailbox.access_token else ""
        password = access_token or stored
    else:
        password = box.decrypt(mailbox.secret)
    return ServerSettings(
        mailbox.imap_host,
        mailbox.imap_port,
        mailbox.imap_security,
        mailbox.username,
        password,
        ca_file,
        timeout,
        allow_local,
        mailbox.auth,
    )


def log_event(
    session: Session,
    user_id: int,
    mailbox: Mailbox | None,
    kind: str,
    code: str | None = None,
    detail: str = "",
) -> None:
    """Add a line to the account's log (the detail is already free of secrets)."""
    session.add(
        MailboxEvent(
            user_id=user_id,
            mailbox_id=mailbox.id if mailbox else None,
            kind=kind,
            code=code,
            detail=detail[:2000],
        )
    )


def mailbox_of(session: Session, user_id: int) -> Mailbox | None:
    """The user's mailbox (connected or not), if any."""
    return session.exec(select(Mailbox).where(Mailbox.user_id == user_id)).first()


def mailboxes_with_problems(session: Session) -> list[tuple[str, Mailbox]]:
    """Connected mailboxes of active users that stopped syncing, with their owner's name."""
    failing = (MailboxStatus.ERROR, MailboxStatus.NEEDS_RECONNECT)
    rows = session.exec(
        select(User.name, Mailbox)
        .join(User, User.id == Mailbox.user_id)
        .where(col(Mailbox.secret).is_not(None), col(Mailbox.status).in_(failing), User.active)
        .order_by(User.name)
    )
    return [(name, mailbox) for name, mailbox in rows]


def ensure_address_free(session: Session, user: User, address: str) -> None:
    """Refuse a mailbox another user already connected: it would be synced twice."""
    other = session.exec(
        select(Mailbox).where(
            Mailbox.address == address, Mailbox.user_id != user.id, Mailbox.secret.is_not(None)
        )
    ).first()
    if other:
        raise AccountError(_l("Another user already connected this mailbox."), "address")


def apply_verification(mailbox: Mailbox, result: VerifyResult) -> None:
    """Record folders and Sent found by a successful verification."""
    names = [f.name for f in syncable_folders(result.folders)]
    extras = [f for f in mailbox.folders if f in names and f not in ("INBOX", result.sent_folder)]
    mailbox.available_folders = names
    mailbox.sent_folder, mailbox.sent_found_by = result.sent_folder, result.sent_found_by
    mailbox.folders = ["INBOX", *([result.sent_folder] if result.sent_folder else []), *extras]
    mailbox.capabilities = list(result.capabilities)
    mailbox.verified_at = utcnow()


def end_transaction_before_waiting(session: Session) -> None:
    """Close the session's transaction before a verification that may wait `timeout` s.

    A web POST's transaction is a write transaction (BEGIN IMMEDIATE) from its first
    query: held while a slow server answered, it made the sync's commits and every other
    POST wait, and fail after the busy timeout. Nothing has been written yet here, and the
    loaded objects stay usable (expire_on_commit=False).
    """
    session.commit()


def connect_mailbox(
    session: Session,
    *,
    user: User,
    request: ConnectionRequest,
    box: SecretBox,
    ca_file: str | None = None,
    timeout: float = 20.0,
    verifier: Verifier = verify,
    smtp_verifier: SmtpVerifier = verify_login,
    actor: User | None = None,
    tokens: TokenSet | None = None,
) -> Mailbox:
    """Verify the account for real (IMAP, then SMTP when it has a server) and save it; on
    failure log the answer and re-raise (ImapError, SmtpCheckError). `tokens`: an OAuth
    mailbox's grant (the request's password is its access token); the refresh token becomes
    the stored secret."""
    request = normalized(request)
    ensure_address_free(session, user, request.address)
    allow_local = allows_local_servers(session)
    end_transaction_before_waiting(session)
    try:
        result = verifier(
            server_settings(request, ca_file=ca_file, timeout=timeout, allow_local=allow_local)
        )
    except ImapError as error:
        existing = mailbox_of(session, user.id)
        log_event(
            session,
            user.id,
            existing,
            "verify_failed",
            error.code,
            f"{error.host}:{error.port} {error.raw}",
        )
        session.commit()
        raise
    if request.smtp_host:
        check_smtp(
            session, user, request, ca_file=ca_file, timeout=timeout,
            smtp_verifier=smtp_verifier, allow_local=allow_local,
        )  # fmt: skip
    ensure_address_free(session, user, request.address)  # still free after the wait?
    existing = mailbox_of(session, user.id)
    mailbox = existing or Mailbox(
        user_id=user.id,
        provider=request.provider,
        address="",
        username="",
        imap_host="",
        imap_port=0,
        imap_security="tls",
    )
    if existing and existing.address != request.address:
        mailbox.folders = []  # another mailbox: the old folder choice means nothing there
    for name in (
        "provider",
        "address",
        "username",
        "imap_host",
        "imap_port",
        "imap_security",
    ):
        setattr(mailbox, name, getattr(request, name))
    sends = bool(request.smtp_host)  # None everywhere: this mailbox only syncs
    mailbox.smtp_host = request.smtp_host if sends else None
    mailbox.smtp_port = request.smtp_port if sends else None
    mailbox.smtp_security = request.smtp_security if sends else None
    mailbox.auth = request.auth
    mailbox.secret, mailbox.access_token, mailbox.access_expires_at = (
        box.encrypt(request.password), None, None,
    )  # fmt: skip
    if tokens is not None:
        store_tokens(mailbox, tokens, box)
    mailbox.connected_by_user_id, mailbox.connected_at = (actor.id if actor else None), utcnow()
    mailbox.status, mailbox.last_error_code = MailboxStatus.CONNECTED, None
    apply_verification(mailbox, result)
    session.add(mailbox)
    session.flush()
    log_event(
        session,
        user.id,
        mailbox,
        "verified",
        None,
        f"{request.imap_host}:{request.imap_port} sent={result.sent_folder!r} smtp="
        + (f"{request.smtp_host}:{request.smtp_port}" if sends else "none"),
    )
    audit.record(  # actor None: the command line
        session,
        actor,
        "mailbox.connect",
        {"user": user.email, "address": request.address, "provider": request.provider},
    )
    return mailbox


def retest_mailbox(
    session: Session,
    mailbox: Mailbox,
    *,
    box: SecretBox,
    ca_file: str | None = None,
    timeout: float = 20.0,
    verifier: Verifier = verify,
    access_token: str | None = None,
) -> ImapError | None:
    """Verify a stored mailbox again; update its status and log; return the error if any."""
    allow_local = allows_local_servers(session)
    end_transaction_before_waiting(session)
    settings = mailbox_settings(
        mailbox, box, ca_file=ca_file, timeout=timeout, allow_local=allow_local,
        access_token=access_token,
    )  # fmt: skip
    try:
        result = verifier(settings)
    except ImapError as error:
        mailbox.status, mailbox.last_error_code, mailbox.last_error_at = (
            MailboxStatus.ERROR,
            error.code,
            utcnow(),
        )
        log_event(
            session,
            mailbox.user_id,
            mailbox,
            "verify_failed",
            error.code,
            f"{error.host}:{error.port} {error.raw}",
        )
        session.add(mailbox)
        return error
    apply_verification(mailbox, result)
    mailbox.status, mailbox.last_error_code = MailboxStatus.CONNECTED, None
    log_event(session, mailbox.user_id, mailbox, "verified")
    session.add(mailbox)
    return None


def reconnect_request(mailbox: Mailbox, password: str) -> ConnectionRequest:
    """The stored mailbox's own servers with a new password (to verify with connect_mailbox)."""
    return ConnectionRequest(
        mailbox.provider, mailbox.address, password, mailbox.username, mailbox.imap_host,
        mailbox.imap_port, mailbox.imap_security, mailbox.smtp_host or "", mailbox.smtp_port,
        mailbox.smtp_security or "tls",
    )  # fmt: skip


def disconnect_mailbox(
    session: Session,
    mailbox: Mailbox,
    actor: User | None,
    *,
    remove_history: bool = False,
    remove_emptied_leads: bool = False,
) -> HistoryRemoval | None:
    """Forget the secret and stop syncing. The synced history stays, unless
    `remove_history`: then what LeadSync holds only because of this mailbox goes too, in
    the same transaction (mailboxes/history.py), and what was deleted is returned.
    Actor None: the command line."""
    mailbox.secret, mailbox.status = None, MailboxStatus.DISCONNECTED
    mailbox.access_token, mailbox.access_expires_at = None, None  # an OAuth mailbox's too
    mailbox.next_sync_at, mailbox.rescan_since = None, None
    removal = None
    detail: dict = {"address": mailbox.address, "history": "kept"}
    if remove_history:
        removal = history.remove_history(
            session, mailbox, remove_emptied_leads=remove_emptied_leads
        )
        detail |= {
            "history": "removed",
            "emails": removal.emails_only_here,
            "leads": len(removal.emptied_leads),
        }
    log_event(session, mailbox.user_id, mailbox, "disconnected")
    audit.record(session, actor, "mailboxes.disconnect", detail)
    session.add(mailbox)
    return removal


def set_folders(session: Session, mailbox: Mailbox, chosen: list[str]) -> None:
    """Sync INBOX, the Sent folder and the ticked folders that exist and may be synced."""
    extras = [
        f
        for f in chosen
        if f in mailbox.available_folders and f not in ("INBOX", mailbox.sent_folder)
    ]
    mailbox.folders = ["INBOX", *([mailbox.sent_folder] if mailbox.sent_folder else []), *extras]
    session.add(mailbox)
