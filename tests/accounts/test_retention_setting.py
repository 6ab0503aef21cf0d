""" "Perfil da Empresa > Sincronização de e-mail": how long emails are kept, and what that
means today, in numbers."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest

from tests.support.clients import log_in
from tests.support.lead_data import lead_data
from tests.support.leads import text_of
from tests.support.mailboxes import audit_events, company, english_client

COMPANY_URL = "/settings/company"
SYNC_URL = "/settings/company/sync"
FORM = {"skip_internal": "y", "visibility": "all", "never_log": "", "auto_create": "sent",
        "import_days": "30", "interval_minutes": "5", "idle_connections": "50"}  # fmt: skip


@pytest.fixture
def admin_client(app, admin):  # type: ignore[no-untyped-def]
    """The admin with an English browser."""
    return english_client(app, admin.email)


def post(client, months: str, **headers: str):  # type: ignore[no-untyped-def]
    """Save the sync section with a retention."""
    return client.post(SYNC_URL, data={**FORM, "retention_months": months}, headers=headers)


def notice(html: str) -> str:
    """The sentence under the field that says what the retention deletes."""
    found = re.search(r'<p class="hint" id="retention-notice"[^>]*>(.*?)</p>', html, re.S)
    assert found, html
    return text_of(found.group(1))


def field_error(html: str) -> str | None:
    """The retention field's error, if any."""
    found = re.search(r'<p class="error" id="retention_months-error">([^<]*)</p>', html)
    return found.group(1) if found else None


def a_year_before(today: date) -> date:
    """The same day a year earlier (28 February for 29 February)."""
    try:
        return today.replace(year=today.year - 1)
    except ValueError:
        return today.replace(year=today.year - 1, day=28)


def test_emails_are_kept_forever_until_an_admin_says_otherwise(admin_client, engine):
    assert company(engine).retention_months is None
    page = admin_client.get(COMPANY_URL).data.decode()
    assert notice(page) == "Emails are kept forever."
    assert 'name="retention_months"' in page


@pytest.mark.parametrize("months", ["1", "12", " 120 "])
def test_a_retention_in_months_is_saved(admin_client, engine, months):
    response = post(admin_client, months)
    assert response.status_code == 200, field_error(response.data.decode())
    assert company(engine).retention_months == int(months)


def test_emptying_the_field_keeps_emails_forever_again(admin_client, engine):
    post(admin_client, "6")
    response = post(admin_client, "")
    assert response.status_code == 200
    assert company(engine).retention_months is None
    assert notice(response.data.decode()) == "Emails are kept forever."
    assert [e.changes for e in audit_events(engine)] == [
        {"retention_months": [None, 6]}, {"retention_months": [6, None]},
    ]  # fmt: skip


@pytest.mark.parametrize("months", ["0", "121", "-3", "abc", "2.5", "1e2"])
def test_a_bad_retention_is_refused_and_nothing_saved(admin_client, engine, months):
    post(admin_client, "24")
    response = post(admin_client, months, **{"HX-Request": "true"})
    assert response.status_code == 422
    html = response.data.decode()
    assert html.lstrip().startswith("<form")  # the section alone, for HTMX
    assert field_error(html) == (
        "Enter a whole number of months from 1 to 120, or leave it empty to keep emails."
    )
    assert company(engine).retention_months == 24


def test_the_page_says_how_many_emails_the_next_purge_deletes(admin_client, engine, rep):
    now = datetime.now(UTC)
    with lead_data(engine) as data:
        lead = data.lead(owner=rep)
        for days in (800, 400, 380):
            data.email(lead, rep=rep, date=now - timedelta(days=days))
        data.email(lead, rep=rep, date=now - timedelta(days=30))
        data.refresh()
    response = post(admin_client, "12")
    day = a_year_before(now.date())
    assert notice(response.data.decode()) == (
        f"3 emails from before {day.month}/{day.day}/{day.strftime('%y')} will be deleted at"
        " the next clean-up (once a day). Leads are kept."
    )
    post(admin_client, "24")
    page = admin_client.get(COMPANY_URL).data.decode()
    assert notice(page).startswith("1 email from before ")


def test_the_notice_reads_in_portuguese(app, engine, admin):
    client = log_in(app.test_client(), admin.email)  # no Accept-Language: pt_BR
    now = datetime.now(UTC)
    with lead_data(engine) as data:
        lead = data.lead()
        data.email(lead, date=now - timedelta(days=400))
        data.email(lead, date=now - timedelta(days=500))
    html = client.post(SYNC_URL, data={**FORM, "retention_months": "12"}).data.decode()
    day = a_year_before(now.date())
    assert notice(html) == (
        f"2 e-mails anteriores a {day:%d/%m/%Y} serão apagados na próxima limpeza (uma vez"
        " por dia). Os leads são mantidos."
    )


def test_a_rep_cannot_set_the_retention(app, engine, rep):
    client = english_client(app, rep.email)
    assert post(client, "1").status_code == 403
    assert company(engine).retention_months is None


def test_the_command_line_sets_and_clears_the_retention(app, engine, admin):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["company", "set", "--retention-months", "18"])
    assert result.exit_code == 0, result.output
    assert company(engine).retention_months == 18
    refused = runner.invoke(args=["company", "set", "--retention-months", "200"])
    assert refused.exit_code != 0 and company(engine).retention_months == 18
    cleared = runner.invoke(args=["company", "set", "--retention-months", ""])
    assert cleared.exit_code == 0, cleared.output
    assert company(engine).retention_months is None
