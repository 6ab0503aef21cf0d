"""Mail providers offered on "Sobre a sincronização": one data table, used by forms and CLI.

Every provider here accepts app passwords over IMAP and SMTP. Microsoft 365 and
Outlook.com do not any more (OAuth only), so they are not offered until OAuth exists.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Provider:
    """Server settings and help links of one mail provider."""

    key: str
    name: str
    imap_host: str | None
    imap_port: int | None
    imap_security: str | None
    smtp_host: str | None
    smtp_port: int | None
    smtp_security: str | None
    app_password_url: str | None = None
    imap_settings_url: str | None = None

    @property
    def custom(self) -> bool:
        """True for "Outro IMAP": the user types the servers."""
        return self.imap_host is None


PROVIDERS: dict[str, Provider] = {
    p.key: p
    for p in (
        Provider(
            "gmail",
            "Gmail / Google Workspace",
            "imap.gmail.com",
            993,
            "tls",
            "smtp.gmail.com",
            465,
            "tls",
            app_password_url="https://myaccount.google.com/apppasswords",
            imap_settings_url="https://mail.google.com/mail/u/0/#settings/fwdandpop",
        ),
        Provider(
            "yahoo",
            "Yahoo",
            "imap.mail.yahoo.com",
            993,
            "tls",
            "smtp.mail.yahoo.com",
            465,
            "tls",
            app_password_url="https://login.yahoo.com/myaccount/security/",
        ),
        Provider(
            "icloud",
            "iCloud",
            "imap.mail.me.com",
            993,
            "tls",
            "smtp.mail.me.com",
            587,
            "starttls",
            app_password_url="https://account.apple.com/account/manage",
        ),
        Provider(
            "zoho",
            "Zoho",
            "imap.zoho.com",
            993,
            "tls",
            "smtp.zoho.com",
            465,
            "tls",
            app_password_url="https://accounts.zoho.com/home#security/app_password",
            imap_settings_url="https://mail.zoho.com/zm/#settings/all/mailaccounts",
        ),
        Provider("other", "Outro IMAP", None, None, None, None, None, None),
    )
}

SECURITY_CHOICES = ("tls", "starttls", "none")
