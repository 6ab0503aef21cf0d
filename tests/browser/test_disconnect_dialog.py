"""The disconnect dialog in a real browser: a rep may only keep the history; an admin sees
what removing it deletes and keeps, removes it, and is told how many emails went."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from dashboard.db.engine import read_session
from dashboard.models import Mailbox
from tests.support.mailboxes import at_noon_in_sao_paulo, mail_on, mailbox_of
from tests.support.pages import log_in, watch_console
from tests.support.sync import SENT, connect, sync

pytestmark = pytest.mark.browser


@pytest.fixture
def app_config(dovecot_server) -> dict:  # type: ignore[no-untyped-def]
    """Trust the test Dovecot's CA."""
    return {"IMAP_CA_FILE": dovecot_server.ca_file}


@pytest.fixture
def synced(app, engine, admin, mailbox_user):  # type: ignore[no-untyped-def]
    """A rep's mailbox with three proposals to new prospects, synced (three new leads)."""
    for n in range(3):
        mail = mail_on(at_noon_in_sao_paulo(1), sender=mailbox_user.address,
                       to=f"prospect{n}@client.test", subject=f"Proposta {n}")  # fmt: skip
        mailbox_user.append(SENT, mail)
    mailbox_id = connect(app, mailbox_user)
    assert sync(app, mailbox_id).error_code is None
    with read_session(engine) as session:
        return session.get(Mailbox, mailbox_id)


def test_a_rep_keeps_the_history_and_an_admin_removes_it(
    live_server, page: Page, engine, admin, mailbox_user, synced
):
    problems = watch_console(page)
    base = live_server.url
    log_in(page, base, mailbox_user.address)
    page.goto(f"{base}/settings/mailbox/")
    page.locator("#mailbox-status a", has_text="Desconectar").click()
    expect(page.locator("h1")).to_have_text(f"Desconectar {mailbox_user.address}")
    expect(page.locator("input[name=history][value=keep]")).to_be_checked()
    expect(page.locator("input[name=history][value=remove]")).to_have_count(0)
    expect(page.locator("form.disconnect-form")).to_contain_text(
        "Só um administrador pode apagar os e-mails sincronizados."
    )
    page.get_by_role("link", name="Cancelar").click()
    expect(page).to_have_url(f"{base}/settings/mailbox/")
    assert mailbox_of(engine, synced.user_id).connected

    page.context.clear_cookies()
    log_in(page, base, admin.email)
    page.goto(f"{base}/settings/team-mailboxes/{synced.user_id}/")
    page.locator("#mailbox-status a", has_text="Desconectar").click()
    dialog = page.locator("form.disconnect-form")
    expect(dialog).to_contain_text("3 e-mails vistos só nesta caixa serão apagados")
    expect(dialog).to_contain_text(
        "Apagar também 3 leads criados pela sincronização que ficariam sem e-mails"
    )
    dialog.locator("input[name=history][value=remove]").check()
    dialog.locator("[name=remove_emptied_leads]").check()
    dialog.get_by_role("button", name="Desconectar").click()
    expect(page.locator(".flash-success")).to_contain_text(
        "Caixa desconectada e histórico apagado: 3 e-mails apagados."
    )
    assert not mailbox_of(engine, synced.user_id).connected
    assert problems == []
