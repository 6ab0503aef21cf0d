"""What to tell a user when their mailbox fails: one translated message and next steps per code.

The codes come from dashboard.mail.imap_client.ErrorCode (plus the runner's "interrupted"
and "internal"); the connection page, the sync status and the sync history use this table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l

from dashboard.mailboxes.providers import PROVIDERS
from dashboard.models import Mailbox


@dataclass(frozen=True)
class Explanation:
    """A failure explained: what happened, what to do next, and a helpful link."""

    message: str
    steps: list[str] = field(default_factory=list)
    link: str | None = None
    link_label: str | None = None


def gmail_app_password_steps() -> list[str]:
    """How to create a Google app password."""
    return [
        str(_l("Open your Google Account and go to Security.")),
        str(_l("Make sure 2-Step Verification is on.")),
        str(_l("Open “App passwords”, create one named LeadSync and copy its 16 letters.")),
        str(_l("Paste it in the Password field here and save.")),
    ]


def gmail_imap_steps() -> list[str]:
    """How to turn IMAP on in Gmail."""
    return [
        str(_l("In Gmail, open Settings (the gear) and then “See all settings”.")),
        str(_l("Open the “Forwarding and POP/IMAP” tab.")),
        str(_l("Under “IMAP access”, choose “Enable IMAP” and save the changes.")),
        str(_l("In Google Workspace, an administrator may also have to allow IMAP for users.")),
    ]


def explain(
    code: str, *, host: str, port: int, provider: str = "other", seconds: float = 20
) -> Explanation:
    """Return the translated explanation of an error code for this server."""
    preset = PROVIDERS.get(provider, PROVIDERS["other"])
    where = {"host": host, "port": port}
    if code == "app_password_required":
        steps = gmail_app_password_steps() if provider == "gmail" else []
        return Explanation(
            str(
                _l(
                    "The provider requires an app password: 2-step verification is "
                    "on for this account, so your normal password is refused."
                )
            ),
            steps,
            preset.app_password_url,
            str(_l("Create an app password")),
        )
    if code == "imap_disabled":
        steps = (
            gmail_imap_steps()
            if provider == "gmail"
            else [str(_l("Turn on IMAP access in your mail settings, then save here again."))]
        )
        return Explanation(
            str(_l("IMAP access is turned off for this mailbox.")),
            steps,
            preset.imap_settings_url,
            str(_l("Open the mail settings")),
        )
    if preset.oauth and code in ("auth_failed", "oauth_revoked"):
        return oauth_refused(code, preset.name)
    if code == "auth_failed":
        return Explanation(
            str(_l("The server refused the address or the app password.")),
            [
                str(_l("Check that the address is the mailbox's full address.")),
                str(
                    _l(
                        "Create a new app password and paste it without changes; your normal "
                        "password does not work here."
                    )
                ),
            ],
            preset.app_password_url,
            str(_l("Create an app password")),
        )
    simple = {
        "tls_certificate": _l(
            "The security certificate of %(host)s:%(port)s could not be "
            "verified. Check the server name; never accept an unknown "
            "certificate.",
            **where,
        ),
        "tls_failed": _l(
            "The secure connection (TLS) to %(host)s:%(port)s failed. Check the port "
            "and the security setting (TLS or STARTTLS).",
            **where,
        ),
        "connection_refused": _l(
            "%(host)s refused the connection on port %(port)s. Check the server name and port.",
            **where,
        ),
        "dns_failed": _l(
            "The server name %(host)s (port %(port)s) could not be found. Check for typos.", **where
        ),
        "timeout": _l(
            "%(host)s:%(port)s did not answer within %(seconds)d seconds. Try again later "
            "or check the server name and port.",
            seconds=seconds,
            **where,
        ),
        "network": _l(
            "The network connection to %(host)s:%(port)s failed. Try again later.", **where
        ),
        "not_mail_server": _l(
            "Something answered at %(host)s:%(port)s, but not a mail server. Check the port "
            "and the security setting (TLS or STARTTLS).",
            **where,
        ),
        "local_address": _l(
            "%(host)s is on this machine or the local network, where LeadSync connects only "
            "if an administrator allows mail servers on the local network (Company profile).",
            **where,
        ),
        "forbidden_address": _l(
            "LeadSync never connects to %(host)s: its address is reserved (link-local, cloud "
            "metadata or not routable). Check the server name.",
            **where,
        ),
        "unavailable": _l("The mail server is temporarily unavailable. LeadSync will try again."),
        "overquota": _l(
            "The provider's download limit was reached. LeadSync will try again later."
        ),
        "oauth_not_configured": _l(
            "Sign-in with Google or Microsoft is no longer set up for this company. An "
            "administrator must enter the app's client ID and secret in the Company profile."
        ),
        "too_many_connections": _l(
            "The mailbox has too many open connections. Close other mail apps or wait a moment."
        ),
        # The runner's own codes: a round whose process was stopped, and a bug of ours.
        "interrupted": _l(
            "The sync stopped halfway (LeadSync was restarted); it resumes by itself."
        ),
        "internal": _l(
            "LeadSync failed unexpectedly while syncing; the error is in the server log. "
            "It tries again by itself."
        ),
    }
    message = simple.get(
        code, _l("The mail server answered with an unexpected error (%(code)s).", code=code)
    )
    return Explanation(str(message))


def oauth_refused(code: str, provider: str) -> Explanation:
    """An OAuth mailbox the provider no longer lets in, or whose sign-in was refused."""
    if code == "oauth_revoked":
        message = _l(
            "%(provider)s no longer allows LeadSync to read this mailbox: the access was "
            "removed in the account's settings, or it expired. Reconnect to allow it again.",
            provider=provider,
        )
    else:
        message = _l(
            "%(provider)s refused the sign-in for this address. Sign in with the account of "
            "the address you typed, and allow every permission LeadSync asks for.",
            provider=provider,
        )
    steps = [
        str(_l("Click “Reconnect” and sign in with the mailbox's account.")),
        str(_l("On the consent page, allow reading and sending email.")),
    ]
    return Explanation(str(message), steps)


def explain_consent(code: str, viewer_is_admin: bool) -> Explanation:
    """The way back from the provider's consent page did not end connected: why."""
    messages = {
        "state": _l(
            "This sign-in was not started here, or it expired. Nothing was saved: "
            "click “Connect” again."
        ),
        "denied": _l(
            "You did not allow LeadSync to access the mailbox, so nothing was saved. To "
            "connect, click “Connect” again and allow access."
        ),
        "provider": _l("The provider answered with an error. Nothing was saved: try again."),
        "exchange": _l(
            "The provider refused to finish the sign-in (the app's client ID or secret may be "
            "wrong, or the sign-in took too long). Nothing was saved."
        ),
        "not_configured": _l(
            "Sign-in with this provider is not set up yet. Ask your LeadSync administrator "
            "to set it up in the Company profile."
        )
        if not viewer_is_admin
        else _l(
            "Sign-in with this provider is not set up yet: enter the app's client ID and "
            "secret in the Company profile."
        ),
    }
    return Explanation(str(messages.get(code, messages["provider"])))


def explain_stored(mailbox: Mailbox, code: str, seconds: float) -> Explanation:
    """The explanation of an error code met by a stored mailbox (its last error, a round)."""
    return explain(
        code,
        host=mailbox.imap_host,
        port=mailbox.imap_port,
        provider=mailbox.provider,
        seconds=seconds,
    )


def explain_smtp(
    code: str, *, host: str, port: int, provider: str = "other", seconds: float = 20
) -> Explanation:
    """The translated explanation of an SMTP login that failed on save (the IMAP one worked)."""
    steps = [str(_l("LeadSync checks the SMTP server too: smart emails leave through it."))]
    if code == "auth_failed":
        message = str(
            _l(
                "The SMTP server %(host)s:%(port)s refused the login, although the IMAP "
                "server accepted it.",
                host=host,
                port=port,
            )
        )
        steps.append(str(_l("Check the SMTP server and port, and the login name if you use one.")))
    else:
        message = explain(code, host=host, port=port, provider=provider, seconds=seconds).message
    if provider == "other":
        steps.append(
            str(
                _l(
                    "To only sync this mailbox, leave the SMTP server empty: smart emails "
                    "cannot be sent from it then."
                )
            )
        )
    return Explanation(message, steps)
