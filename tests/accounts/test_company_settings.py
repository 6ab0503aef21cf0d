""" "Perfil da Empresa > Sincronização de e-mail": validation, audit, CLI, aliases, reschedule."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from apscheduler.triggers.interval import IntervalTrigger

from dashboard.accounts import audit
from dashboard.accounts import service as accounts
from dashboard.db.engine import read_session, write_session
from dashboard.mail.addresses import fingerprint
from dashboard.sync.runner import build_policy
from dashboard.sync.scheduler import SYNC_JOB
from tests.support import factories
from tests.support.clients import log_in
from tests.support.leads import text_of
from tests.support.mailboxes import audit_events, company, connect, english_client

COMPANY_URL = "/settings/company"
SYNC_URL = "/settings/company/sync"
ALIASES_URL = "/settings/profile/aliases"
SYNC_FIELDS = ("skip_internal", "visibility", "never_log", "auto_create", "import_days",
               "interval_minutes", "retention_months", "idle_connections")  # fmt: skip
DEFAULTS = {
    "skip_internal": True,
    "visibility": "all",
    "never_log": [],
    "auto_create": "sent",
    "import_days": 30,
    "interval_minutes": 5,
    "retention_months": None,
    "idle_connections": 50,
}


@pytest.fixture
def admin_client(app, admin):  # type: ignore[no-untyped-def]
    """The admin with an English browser."""
    return english_client(app, admin.email)


@pytest.fixture
def rep_client(app, rep):  # type: ignore[no-untyped-def]
    """The rep with an English browser."""
    return english_client(app, rep.email)


def sync_form(**overrides: object) -> dict:
    """The sync section as the page posts it (an unticked checkbox is simply absent)."""
    form = {
        "skip_internal": "y",
        "visibility": "all",
        "never_log": "",
        "auto_create": "sent",
        "import_days": "30",
        "interval_minutes": "5",
        "idle_connections": "50",
    }
    for key, value in overrides.items():
        if value is None:
            form.pop(key, None)
        else:
            form[key] = str(value)
    return form


def sync_values(engine) -> dict:  # type: ignore[no-untyped-def]
    """The stored sync settings."""
    record = company(engine)
    return {name: getattr(record, name) for name in SYNC_FIELDS}


def field_errors(html: str) -> dict[str, str]:
    """Error text per field id, as the form macro renders it."""
    return dict(re.findall(r'<p class="error" id="([a-z_]+)-error">([^<]*)</p>', html))


def cli(app, *args: str):  # type: ignore[no-untyped-def]
    """Run a flask command in-process."""
    return app.test_cli_runner().invoke(args=list(args))


# --- the sync section --------------------------------------------------------------


def test_defaults_are_the_issues(admin, engine):
    assert sync_values(engine) == DEFAULTS


def test_admin_turns_internal_email_sync_off_and_on(admin_client, engine):
    response = admin_client.post(SYNC_URL, data=sync_form(skip_internal=None))
    assert response.status_code == 200
    assert "Settings saved. The next sync round uses them." in response.data.decode()
    assert company(engine).skip_internal is False
    admin_client.post(SYNC_URL, data=sync_form(skip_internal="y"))
    assert company(engine).skip_internal is True


@pytest.mark.parametrize("choice", ["all", "subject", "metadata"])
def test_visibility_choices_are_saved(admin_client, engine, choice):
    response = admin_client.post(SYNC_URL, data=sync_form(visibility=choice))
    assert response.status_code == 200
    assert company(engine).visibility == choice


@pytest.mark.parametrize("choice", ["never", "suggest", "sent", "all"])
def test_auto_create_choices_are_saved(admin_client, engine, choice):
    response = admin_client.post(SYNC_URL, data=sync_form(auto_create=choice))
    assert response.status_code == 200
    assert company(engine).auto_create == choice


@pytest.mark.parametrize(
    ("field", "value"), [("visibility", "everything"), ("auto_create", "always")]
)
def test_unknown_choices_are_refused(admin_client, engine, field, value):
    response = admin_client.post(SYNC_URL, data=sync_form(**{field: value}))
    assert response.status_code == 422
    assert field in field_errors(response.data.decode())
    assert sync_values(engine) == DEFAULTS


def test_never_log_entries_are_normalized(admin_client, engine):
    text = "@Gmail.com\nfamily.org\nBoss@X.com\n  @gmail.com  \nFAMILY.ORG"
    response = admin_client.post(SYNC_URL, data=sync_form(never_log=text))
    assert response.status_code == 200, field_errors(response.data.decode())
    assert company(engine).never_log == ["@gmail.com", "@family.org", "boss@x.com"]
    page = admin_client.get(COMPANY_URL).data.decode()
    assert "@gmail.com\n@family.org\nboss@x.com" in page  # shown back one per line


def test_never_log_keeps_an_erased_persons_fingerprint_when_saved_again(admin_client, engine):
    erased = fingerprint("zelia@quixabeira.test")
    text = f"@gmail.com\n{erased.upper().replace('SHA256', 'sha256')}"
    response = admin_client.post(SYNC_URL, data=sync_form(never_log=text))
    assert response.status_code == 200, field_errors(response.data.decode())
    assert company(engine).never_log == ["@gmail.com", erased]


def test_never_log_accepts_commas_between_entries(admin_client, engine):
    admin_client.post(SYNC_URL, data=sync_form(never_log="@gmail.com, ana@x.com"))
    assert company(engine).never_log == ["@gmail.com", "ana@x.com"]


@pytest.mark.parametrize("entry", ["not valid", "@", "a@b", "x@@y.com", "@@gmail.com", "gmail"])
def test_invalid_never_log_entries_are_refused_and_nothing_saved(admin_client, engine, entry):
    form = sync_form(never_log=f"@gmail.com\n{entry}", import_days=90, skip_internal=None)
    response = admin_client.post(SYNC_URL, data=form)
    assert response.status_code == 422
    assert "never_log" in field_errors(response.data.decode())
    assert sync_values(engine) == DEFAULTS
    assert audit_events(engine) == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("import_days", 1),
        ("import_days", 3650),
        ("interval_minutes", 1),
        ("interval_minutes", 1440),
        ("idle_connections", 0),
        ("idle_connections", 500),
    ],
)
def test_numbers_at_the_limits_are_accepted(admin_client, engine, field, value):
    response = admin_client.post(SYNC_URL, data=sync_form(**{field: value}))
    assert response.status_code == 200, field_errors(response.data.decode())
    assert getattr(company(engine), field) == value


@pytest.mark.parametrize(
    ("field", "value"),
    [("import_days", "0"), ("import_days", "3651"), ("import_days", "abc"), ("import_days", ""),
     ("import_days", "-5"), ("interval_minutes", "0"), ("interval_minutes", "1441"),
     ("interval_minutes", "abc"), ("interval_minutes", ""), ("interval_minutes", "2.5"),
     ("idle_connections", "501"), ("idle_connections", "-1"), ("idle_connections", "lots")],
)  # fmt: skip
def test_numbers_out_of_range_are_refused_and_nothing_saved(admin_client, engine, field, value):
    form = sync_form(**{field: value}, visibility="subject")
    response = admin_client.post(SYNC_URL, data=form)
    assert response.status_code == 422
    assert field in field_errors(response.data.decode())
    assert sync_values(engine) == DEFAULTS


def test_several_bad_fields_are_reported_at_once(admin_client, engine):
    form = sync_form(import_days=0, interval_minutes=1441, never_log="not valid")
    response = admin_client.post(SYNC_URL, data=form)
    assert response.status_code == 422
    errors = field_errors(response.data.decode())
    assert set(errors) == {"import_days", "interval_minutes", "never_log"}
    assert errors["import_days"] == "Enter a whole number from 1 to 3650."
    assert errors["interval_minutes"] == "Enter a whole number from 1 to 1440."
    assert sync_values(engine) == DEFAULTS


def test_a_non_number_does_not_hide_the_other_errors(admin_client, engine):
    form = sync_form(import_days=0, interval_minutes="abc", never_log="not valid")
    response = admin_client.post(SYNC_URL, data=form)
    assert response.status_code == 422
    errors = field_errors(response.data.decode())
    assert set(errors) == {"import_days", "interval_minutes", "never_log"}, errors


def test_sync_section_under_htmx_returns_only_its_form(admin_client):
    response = admin_client.post(SYNC_URL, data=sync_form(), headers={"HX-Request": "true"})
    html = response.data.decode()
    assert html.lstrip().startswith("<form") and 'id="sync-settings-form"' in html
    assert "<html" not in html


def test_sync_section_needs_the_csrf_token(admin_client, engine):
    response = admin_client.post(SYNC_URL, data=sync_form(import_days=90), csrf=False)
    assert response.status_code in (400, 422)
    assert company(engine).import_days == 30


# --- the audit log ---------------------------------------------------------------


def test_each_change_lands_in_the_audit_log_with_who_and_what(admin_client, admin, engine):
    admin_client.post(SYNC_URL, data=sync_form(skip_internal=None, import_days=90))
    events = audit_events(engine)
    assert len(events) == 1
    event = events[0]
    assert event.action == "company.update"
    assert event.actor_id == admin.id and admin.email in event.actor
    assert event.changes == {"skip_internal": [True, False], "import_days": [30, 90]}
    page = admin_client.get(COMPANY_URL).data.decode()
    log = re.search(r'<table class="list" id="audit-log">.*?</table>', page, re.S).group(0)
    sentence = re.search(r'<p class="audit-sentence">(.*?)</p>', log, re.S).group(1)
    assert text_of(sentence) == (
        f"{admin.name} turned off “Keep emails exchanged only between the company's employees"
        " from being synced”; changed “First import reaches back (days)” from “30” to “90”"
    )
    detail = re.search(r'<details class="audit-detail">.*?</details>', log, re.S).group(0)
    assert admin.email in detail and "company.update" in detail  # the raw entry, folded


def test_the_audit_log_reads_in_portuguese(app, engine):  # type: ignore[no-untyped-def]
    factories.setup_company(engine)
    fernanda = factories.make_user(engine, role="admin", name="Fernanda")
    client = log_in(app.test_client(), fernanda.email)  # no Accept-Language: pt_BR
    client.post(SYNC_URL, data=sync_form(never_log="@gmail.com"))
    client.post(SYNC_URL, data=sync_form(never_log="@gmail.com\n@uol.com.br", auto_create="all"))
    paulo = {"name": "Paulo", "email": "paulo@acme.test", "role": "rep"}
    secret = {"password": factories.PASSWORD, "confirm": factories.PASSWORD}
    assert client.post("/settings/users/", data={**paulo, **secret}).status_code == 200
    page = client.get(COMPANY_URL).data.decode()
    log = re.search(r'<table class="list" id="audit-log">.*?</table>', page, re.S).group(0)
    sentences = [text_of(s) for s in re.findall(r'<p class="audit-sentence">(.*?)</p>', log, re.S)]
    assert sentences == [
        "Fernanda convidou Paulo (vendedor)",
        "Fernanda alterou “Nunca registrar estes endereços ou domínios”: adicionou @uol.com.br;"
        " alterou “Criar leads automaticamente” de “A partir dos e-mails que enviamos”"
        " para “A partir dos e-mails enviados e recebidos”",
        "Fernanda alterou “Nunca registrar estes endereços ou domínios”: adicionou @gmail.com",
    ]
    assert "company.update" not in text_of(log.split('<details class="audit-detail">')[0])


def test_unknown_codes_and_odd_values_still_read_safely(admin_client, admin, engine):
    with write_session(engine) as session:
        audit.record(session, admin, "template.save", {"name": "<b>Oferta</b>"})
        audit.record(session, None, "lead.merge", {"into": 7})
    page = admin_client.get(COMPANY_URL).data.decode()
    sentences = re.findall(r'<p class="audit-sentence">(.*?)</p>', page, re.S)
    assert [text_of(s) for s in sentences] == [
        "The command line made a change (lead.merge)",
        f"{admin.name} saved the template “<b>Oferta</b>”",
    ]
    assert "<b>Oferta" not in page  # escaped


def test_saving_without_changes_records_nothing(admin_client, engine):
    admin_client.post(SYNC_URL, data=sync_form())
    assert audit_events(engine) == []


def test_every_save_is_its_own_audit_event(admin_client, engine):
    admin_client.post(SYNC_URL, data=sync_form(never_log="@gmail.com"))
    admin_client.post(SYNC_URL, data=sync_form(never_log="@gmail.com", interval_minutes=15))
    changes = [e.changes for e in audit_events(engine)]
    assert changes == [{"never_log": [[], ["@gmail.com"]]}, {"interval_minutes": [5, 15]}]


def test_audit_log_never_holds_a_mailbox_secret(
    app, admin_client, rep, engine, mailbox_user, dovecot_server
):
    app.config["IMAP_CA_FILE"] = dovecot_server.ca_file
    rep_client = english_client(app, rep.email)
    assert connect(rep_client, mailbox_user).status_code == 302
    admin_client.post(SYNC_URL, data=sync_form(import_days=60))
    assert len(audit_events(engine)) == 2
    for event in audit_events(engine):
        assert mailbox_user.password not in json.dumps(event.changes)
    page = admin_client.get(COMPANY_URL).data.decode()
    assert "mailbox.connect" in page
    assert mailbox_user.password not in page


# --- the company name and domains ---------------------------------------------------


def test_company_domains_are_lowercased_and_deduplicated(admin_client, engine):
    form = {"name": "  Acme Brasil  ", "domains": "Acme.TEST\nacme.test\nACME.com.br"}
    response = admin_client.post(COMPANY_URL, data=form)
    assert response.status_code == 200
    assert "Company profile saved." in response.data.decode()
    record = company(engine)
    assert (record.name, record.domains) == ("Acme Brasil", ["acme.test", "acme.com.br"])
    assert audit_events(engine)[-1].changes["domains"][1] == ["acme.test", "acme.com.br"]


@pytest.mark.parametrize("domains", ["acme..test", "not_a_domain.com", "localhost", "1.2.3.4", ""])
def test_invalid_company_domains_are_refused(admin_client, engine, domains):
    before = company(engine)
    response = admin_client.post(COMPANY_URL, data={"name": "Other", "domains": domains})
    assert response.status_code == 422
    assert "domains" in field_errors(response.data.decode())
    after = company(engine)
    assert (after.name, after.domains) == (before.name, before.domains)
    assert audit_events(engine) == []


def test_company_name_is_required(admin_client, engine):
    response = admin_client.post(COMPANY_URL, data={"name": "  ", "domains": "acme.test"})
    assert response.status_code == 422
    assert "name" in field_errors(response.data.decode())


# --- who may see it -------------------------------------------------------------------


@pytest.mark.parametrize(("method", "url"), [("get", COMPANY_URL), ("post", COMPANY_URL),
                                             ("post", SYNC_URL)])  # fmt: skip
def test_a_rep_gets_403(rep_client, engine, method, url):
    response = getattr(rep_client, method)(url, data=sync_form(import_days=90))
    assert response.status_code == 403
    assert sync_values(engine) == DEFAULTS


def test_anonymous_visitors_are_sent_to_login(client, admin):
    response = client.get(COMPANY_URL)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


# --- live reschedule --------------------------------------------------------------------


@pytest.fixture
def sync_job(app):  # type: ignore[no-untyped-def]
    """A "sync-round" job in the app's scheduler, which is never started (nothing runs)."""
    scheduler = app.extensions["leadsync.scheduler"]
    scheduler.add_job(lambda: None, "interval", minutes=5, id=SYNC_JOB)
    assert not scheduler.running
    yield scheduler
    assert not scheduler.running


def test_changing_the_interval_reschedules_the_sync_job(admin_client, sync_job):
    response = admin_client.post(SYNC_URL, data=sync_form(interval_minutes=17))
    assert response.status_code == 200
    trigger = sync_job.get_job(SYNC_JOB).trigger
    assert isinstance(trigger, IntervalTrigger)
    assert trigger.interval == timedelta(minutes=17)


def test_other_changes_leave_the_sync_job_alone(admin_client, sync_job):
    admin_client.post(SYNC_URL, data=sync_form(import_days=90))
    assert sync_job.get_job(SYNC_JOB).trigger.interval == timedelta(minutes=5)


def test_a_refused_interval_leaves_the_sync_job_alone(admin_client, sync_job):
    admin_client.post(SYNC_URL, data=sync_form(interval_minutes=0))
    assert sync_job.get_job(SYNC_JOB).trigger.interval == timedelta(minutes=5)


# --- the command line ----------------------------------------------------------------------


def test_company_show_prints_json(app, admin, engine):
    result = cli(app, "company", "show")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    record = company(engine)
    assert shown == {
        "name": record.name,
        "domains": record.domains,
        **DEFAULTS,
        "stale_days": 3,
        "tracking": True,
        "allow_local_servers": True,  # the test factories' company: servers on 127.0.0.1
    }


def test_company_set_allows_or_refuses_local_mail_servers(app, admin, engine):
    result = cli(app, "company", "set", "--local-servers", "refuse")
    assert result.exit_code == 0, result.output
    assert company(engine).allow_local_servers is False
    assert cli(app, "company", "set", "--local-servers", "allow").exit_code == 0
    assert company(engine).allow_local_servers is True


def test_company_set_changes_exactly_the_given_settings(app, admin, engine):
    before = company(engine)
    result = cli(
        app, "company", "set", "--internal-only", "sync", "--never-log", "@gmail.com",
        "--import-days", "90", "--interval-minutes", "10", "--auto-create", "suggest",
        "--visibility", "subject", "--retention-months", "24", "--idle-connections", "20",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    after = company(engine)
    assert (after.name, after.domains) == (before.name, before.domains)
    assert sync_values(engine) == {
        "skip_internal": False,
        "visibility": "subject",
        "never_log": ["@gmail.com"],
        "auto_create": "suggest",
        "import_days": 90,
        "interval_minutes": 10,
        "retention_months": 24,
        "idle_connections": 20,
    }
    events = audit_events(engine)
    assert len(events) == 1
    assert (events[0].actor, events[0].action) == ("cli", "company.update")
    assert set(events[0].changes) == set(SYNC_FIELDS)


def test_company_set_normalizes_like_the_page(app, admin, engine):
    result = cli(
        app, "company", "set", "--never-log", "@Gmail.com", "--never-log", "family.org",
        "--never-log", "Boss@X.com", "--domain", "ACME.test", "--domain", "acme.test",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    record = company(engine)
    assert record.never_log == ["@gmail.com", "@family.org", "boss@x.com"]
    assert record.domains == ["acme.test"]


def test_company_set_changes_one_setting_alone(app, admin, engine):
    result = cli(app, "company", "set", "--internal-only", "skip", "--import-days", "31")
    assert result.exit_code == 0, result.output
    assert sync_values(engine) == {**DEFAULTS, "import_days": 31}
    assert audit_events(engine)[0].changes == {"import_days": [30, 31]}


@pytest.mark.parametrize(
    "args",
    [
        ["--import-days", "0"],
        ["--import-days", "3651"],
        ["--interval-minutes", "1441"],
        ["--interval-minutes", "abc"],
        ["--never-log", "not valid"],
        ["--never-log", "@gmail.com", "--never-log", "a@b"],
        ["--domain", "not_a_domain"],
    ],
)
def test_company_set_refuses_invalid_values_with_one_line(app, admin, engine, args):
    before = company(engine)
    result = cli(app, "company", "set", "--import-days", "45", *args)
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert "Traceback" not in result.output
    after = company(engine)
    assert sync_values(engine) == DEFAULTS
    assert (after.name, after.domains) == (before.name, before.domains)
    assert audit_events(engine) == []


def test_company_set_refuses_an_unknown_choice(app, admin, engine):
    result = cli(app, "company", "set", "--visibility", "everything")
    assert result.exit_code != 0
    assert [line for line in result.output.splitlines() if "Error" in line] == [
        "Error: Invalid value for '--visibility': 'everything' is not one of "
        "'all', 'subject', 'metadata'."
    ]
    assert sync_values(engine) == DEFAULTS


def test_company_set_reports_every_bad_value_in_its_line(app, admin):
    result = cli(app, "company", "set", "--import-days", "0", "--interval-minutes", "0")
    assert result.exit_code != 0
    (line,) = result.output.strip().splitlines()
    assert "3650" in line and "1440" in line


# --- "Meu perfil": other addresses the user sends from ---------------------------------------


def aliases_in(engine, user_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    """The stored aliases of a user."""
    with read_session(engine) as session:
        return accounts.aliases_of(session, user_id)


def test_aliases_are_saved_and_normalized(rep_client, rep, engine):
    text = "Rep.Personal@Gmail.com\n sales@ACME.test \nrep.personal@gmail.com"
    response = rep_client.post(ALIASES_URL, data={"aliases": text})
    assert response.status_code == 200
    assert "Addresses saved." in response.data.decode()
    assert aliases_in(engine, rep.id) == ["rep.personal@gmail.com", "sales@acme.test"]
    page = rep_client.get("/settings/profile").data.decode()
    assert "rep.personal@gmail.com\nsales@acme.test" in page


def test_aliases_count_as_company_addresses(rep_client, rep, engine):
    rep_client.post(ALIASES_URL, data={"aliases": "rep.personal@gmail.com"})
    with read_session(engine) as session:
        policy = build_policy(session, company(engine))  # as the sync reads it at a round's start
    assert policy.company.owns("Rep.Personal@gmail.com")
    assert not policy.company.owns("someone.else@gmail.com")


def test_saving_an_empty_list_removes_the_aliases(rep_client, rep, engine):
    rep_client.post(ALIASES_URL, data={"aliases": "a1@gmail.com"})
    rep_client.post(ALIASES_URL, data={"aliases": ""})
    assert aliases_in(engine, rep.id) == []


def test_another_users_address_is_refused_as_alias(rep_client, rep, admin, engine):
    rep_client.post(ALIASES_URL, data={"aliases": "mine@gmail.com"})
    response = rep_client.post(ALIASES_URL, data={"aliases": f"new@gmail.com\n{admin.email}"})
    assert response.status_code == 422
    assert f"{admin.email} already belongs to another user." in response.data.decode()
    assert aliases_in(engine, rep.id) == ["mine@gmail.com"]


def test_another_users_alias_is_refused(app, rep_client, rep, engine):
    other = factories.make_user(engine, role="rep")
    other_client = english_client(app, other.email)
    assert other_client.post(ALIASES_URL, data={"aliases": "shared@gmail.com"}).status_code == 200
    response = rep_client.post(ALIASES_URL, data={"aliases": "Shared@Gmail.com"})
    assert response.status_code == 422
    assert aliases_in(engine, rep.id) == []
    assert aliases_in(engine, other.id) == ["shared@gmail.com"]


def test_an_invalid_alias_is_refused(rep_client, rep, engine):
    response = rep_client.post(ALIASES_URL, data={"aliases": "ok@gmail.com\nnot-an-address"})
    assert response.status_code == 422
    assert "Enter a valid email address." in response.data.decode()
    assert aliases_in(engine, rep.id) == []


def test_own_login_address_is_not_stored_as_alias(rep_client, rep, engine):
    rep_client.post(ALIASES_URL, data={"aliases": f"{rep.email.upper()}\nx@gmail.com"})
    assert aliases_in(engine, rep.id) == ["x@gmail.com"]


def test_lead_settings_are_saved_and_validated(admin_client, engine):
    saved = admin_client.post(
        "/settings/company/leads", data={"stale_days": "7"}, headers={"HX-Request": "true"}
    )
    assert saved.status_code == 200
    record = company(engine)
    assert (record.stale_days, record.tracking) == (7, False)  # unticked box: tracking off
    refused = admin_client.post(
        "/settings/company/leads", data={"stale_days": "0", "tracking": "y"}
    )
    assert refused.status_code == 422
    assert (company(engine).stale_days, company(engine).tracking) == (7, False)


def test_cli_sets_lead_settings(app, admin, engine):
    result = cli(app, "company", "set", "--stale-days", "5", "--tracking", "off")
    assert result.exit_code == 0, result.output
    assert (company(engine).stale_days, company(engine).tracking) == (5, False)


def test_a_bad_idle_cap_says_the_allowed_range(admin_client, engine):
    response = admin_client.post(SYNC_URL, data=sync_form(idle_connections=1000))
    assert response.status_code == 422
    assert field_errors(response.data.decode())["idle_connections"] == (
        "Enter a whole number from 0 to 500."
    )
    assert company(engine).idle_connections == 50
