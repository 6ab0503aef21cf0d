"""Email templates: admins manage the company's (reps may only use them), and everyone keeps
their own, private to them, beside the company's in the compose picker."""

from __future__ import annotations

import re

from sqlalchemy import Engine
from sqlmodel import select

from dashboard.db.engine import read_session, write_session
from dashboard.models import EmailTemplate, User
from dashboard.states import Role
from tests.support import factories
from tests.support.clients import log_in
from tests.support.lead_data import lead_data


def make_template(engine: Engine) -> EmailTemplate:
    """A company template with a unique name."""
    with write_session(engine) as session:
        template = EmailTemplate(
            name=f"Follow-up {factories.next_number()}",
            subject="Olá {{ first_name }}",
            body="Oi {{ first_name }}, tudo bem?",
        )
        session.add(template)
        session.flush()
        return template


def test_an_admin_opens_a_template_to_edit_it(admin_client, engine) -> None:  # type: ignore[no-untyped-def]
    template = make_template(engine)
    response = admin_client.get(f"/settings/templates/{template.id}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert template.name in page
    assert "Oi {{ first_name }}, tudo bem?" in page


def test_an_admin_saves_a_template(admin_client, engine) -> None:  # type: ignore[no-untyped-def]
    template = make_template(engine)
    response = admin_client.post(
        f"/settings/templates/{template.id}",
        data={"name": "Proposta", "subject": "Proposta", "body": "Segue a proposta."},
    )
    assert response.status_code == 302
    with read_session(engine) as session:
        saved = session.get(EmailTemplate, template.id)
        assert (saved.name, saved.body) == ("Proposta", "Segue a proposta.")


def test_a_rep_cannot_change_the_companys_templates(rep_client, engine) -> None:  # type: ignore[no-untyped-def]
    template = make_template(engine)
    assert rep_client.get(f"/settings/templates/{template.id}").status_code == 403
    assert rep_client.post(f"/settings/templates/{template.id}/delete").status_code == 403
    with read_session(engine) as session:
        assert session.exec(select(EmailTemplate)).all()


def new_template(client, name: str, **extra: str):  # type: ignore[no-untyped-def]
    """Post the "New template" form."""
    data = {"name": name, "subject": "Oi {{ primeiro_nome }}", "body": "Tudo bem?", **extra}
    return client.post("/settings/templates/", data=data)


def picker(client, engine: Engine) -> str:  # type: ignore[no-untyped-def]
    """The template picker of a compose card."""
    with lead_data(engine) as data:
        lead = data.lead()
    html = client.get(f"/leads/{lead.id}/compose", headers={"HX-Request": "true"}).data.decode()
    found = re.search(r'<select id="compose-template".*?</select>', html, re.S)
    return found.group(0) if found else ""


def owners(engine: Engine) -> dict[str, int | None]:
    """Each template's owner (None: the company's), by name."""
    with read_session(engine) as session:
        return {t.name: t.user_id for t in session.exec(select(EmailTemplate))}


def test_a_rep_keeps_private_templates_beside_the_companys(app, engine, rep, rep_client) -> None:  # type: ignore[no-untyped-def]
    company = make_template(engine)
    assert new_template(rep_client, "Meu follow-up", shared="y").status_code == 302
    assert owners(engine)["Meu follow-up"] == rep.id  # a rep cannot share: it is theirs
    listing = rep_client.get("/settings/templates/").get_data(as_text=True)
    assert "Meu follow-up" in listing and company.name in listing
    own = re.search(r'<optgroup label="[^"]+">\s*<option value="(\d+)" >Meu follow-up<', picker(
        rep_client, engine))  # fmt: skip
    assert own and company.name in picker(rep_client, engine)
    own_id = int(own.group(1))
    page = rep_client.get(f"/settings/templates/{own_id}")
    assert page.status_code == 200 and "Meu follow-up" in page.get_data(as_text=True)
    assert rep_client.post(f"/settings/templates/{own_id}", data={
        "name": "Meu follow-up", "subject": "", "body": "Mudei"}).status_code == 302  # fmt: skip
    teammate = log_in(app.test_client(), factories.make_user(engine).email)
    for other in (teammate, log_in(app.test_client(), admin_email(engine))):
        assert "Meu follow-up" not in picker(other, engine)
        assert "Meu follow-up" not in other.get("/settings/templates/").get_data(as_text=True)
        assert other.get(f"/settings/templates/{own_id}").status_code == 404
        assert other.post(f"/settings/templates/{own_id}/delete").status_code == 404
    assert rep_client.post(f"/settings/templates/{own_id}/delete").status_code == 302
    assert owners(engine) == {company.name: None}


def test_an_admin_adds_company_templates_and_own_ones(admin_client, engine, admin) -> None:  # type: ignore[no-untyped-def]
    assert new_template(admin_client, "Para todos", shared="y").status_code == 302
    assert new_template(admin_client, "Só meu").status_code == 302
    assert new_template(admin_client, "Só meu").status_code == 422  # the name is taken: theirs
    assert owners(engine) == {"Para todos": None, "Só meu": admin.id}


def test_a_rep_may_name_an_own_template_like_a_company_one(rep_client, engine, rep) -> None:  # type: ignore[no-untyped-def]
    company = make_template(engine)
    assert new_template(rep_client, company.name).status_code == 302
    assert new_template(rep_client, company.name).status_code == 422
    with read_session(engine) as session:
        names = sorted((t.name, t.user_id or 0) for t in session.exec(select(EmailTemplate)))
    assert names == [(company.name, 0), (company.name, rep.id)]


def test_someone_elses_template_cannot_be_picked(app, engine, rep, rep_client) -> None:  # type: ignore[no-untyped-def]
    teammate = factories.make_user(engine)
    with write_session(engine) as session:
        private = EmailTemplate(
            name="Privado", subject="Segredo", body="Texto", user_id=teammate.id
        )
        session.add(private)
        session.flush()
        private_id = private.id
    with lead_data(engine) as data:
        lead = data.lead()
    response = rep_client.post(
        f"/leads/{lead.id}/compose/template",
        data={"to": "x@cliente.test", "subject": "", "body": "", "template": str(private_id)},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200 and "Segredo" not in response.get_data(as_text=True)


def admin_email(engine: Engine) -> str:
    """The administrator's login."""
    with read_session(engine) as session:
        return session.exec(select(User).where(User.role == Role.ADMIN)).first().email
