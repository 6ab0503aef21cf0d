"""Mail providers offered on "Sobre a sincronização": one data table, used by forms and CLI.

Most accept app passwords over IMAP and SMTP. "Google (OAuth)" and "Microsoft 365" sign in
with OAuth instead (XOAUTH2): their servers and endpoints come from mail/oauth.py, and
Microsoft 365 / Outlook.com accept nothing else any more.
"""

from __future__ import annotations

from dataclasses import dataclass

from dashboard.mail.oauth import OAUTH_PROVIDERS, OAuthProvider


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
    oauth: bool = False  # signs in with "Conectar com ..." (mail/oauth.py), no password

    @property
    def custom(self) -> bool:
        """True for "Outro IMAP": the user types the servers."""
        return self.imap_host is None


def oauth_tile(provider: OAuthProvider, name: str) -> Provider:
    """The tile of an OAuth provider, with its real servers."""
    return Provider(
        provider.key, name, provider.imap_host, provider.imap_port, provider.imap_security,
        provider.smtp_host, provider.smtp_port, provider.smtp_security, oauth=True,
    )  # fmt: skip


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
        oauth_tile(OAUTH_PROVIDERS["google"], "Google (OAuth)"),
        oauth_tile(OAUTH_PROVIDERS["microsoft"], "Microsoft 365"),
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
