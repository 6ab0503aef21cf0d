"""The templates admin: list, open one to edit, save, delete; reps are kept out."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import select

from dashboard.db.engine import read_session, write_session
from dashboard.models import EmailTemplate
from tests.support import factories


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


def test_a_rep_cannot_open_or_delete_templates(rep_client, engine) -> None:  # type: ignore[no-untyped-def]
    template = make_template(engine)
    assert rep_client.get(f"/settings/templates/{template.id}").status_code == 403
    assert rep_client.post(f"/settings/templates/{template.id}/delete").status_code == 403
    with read_session(engine) as session:
        assert session.exec(select(EmailTemplate)).all()
