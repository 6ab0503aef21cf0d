"""What to tell a rep when a smart email could not be sent (codes of smtp_client.SendError)."""

from __future__ import annotations

from flask_babel import gettext as _


def send_error_text(code: str | None) -> str:
    """A translated explanation of a send failure; nothing the rep wrote was lost."""
    messages = {
        "auth_failed": _(
            "The mail server refused your app password. Reconnect your mailbox on "
            "“About sync”, then try again."
        ),
        "relay_refused": _("The mail server refused one of the recipients. Check the addresses."),
        "too_large": _("The email is larger than your mail server accepts."),
        "sender_refused": _("The mail server does not let you send from this address."),
        "tls_certificate": _("The mail server's security certificate could not be verified."),
        "tls_failed": _("The secure connection to the mail server failed."),
        "connection_refused": _("The mail server refused the connection. Try again later."),
        "dns_failed": _("The mail server's name could not be found."),
        "timeout": _("The mail server did not answer in time. Try again."),
        "network": _("The network failed while sending. Try again."),
        "not_mail_server": _(
            "The outgoing server's address and port do not lead to a mail server. Check them "
            "on “About sync”."
        ),
        "local_address": _(
            "The outgoing server is on the local network, which an administrator has not "
            "allowed (Company profile)."
        ),
        "forbidden_address": _(
            "LeadSync never connects to the outgoing server's address. Check it on “About sync”."
        ),
        "interrupted": _(
            "LeadSync stopped while sending this email. Check your Sent folder "
            "before trying again: it may have left."
        ),
        "no_mailbox": _("Connect your mailbox on “About sync” before sending."),
        "no_smtp": _(
            "Your mailbox only syncs: add its outgoing (SMTP) server on “About sync” to send "
            "from LeadSync."
        ),
    }
    return messages.get(
        code or "", _("The email could not be sent (%(code)s). Try again.", code=code or "?")
    )
