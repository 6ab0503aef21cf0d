"""First-run setup: the redirect while no user exists, the form's rules, and its disappearance."""

from __future__ import annotations

import pytest
from sqlmodel import select

from dashboard.db.engine import read_session
from dashboard.models import Company, User
from tests.support.factories import PASSWORD


@pytest.fixture
def app_config() -> dict:
    """English UI, so assertions read the msgids whatever the pt_BR catalog says."""
    return {"LANGUAGES": ("en", "pt_BR")}


def setup_data(**changes: str) -> dict[str, str]:
    """A valid first-run form, with some fields changed."""
    data = {
        "company": "Acme Ltda",
        "domains": "acme.test",
        "name": "Ana Admin",
        "email": "ana@acme.test",
        "password": PASSWORD,
        "confirm": PASSWORD,
    }
    return {**data, **changes}


def users_and_companies(engine) -> tuple[list[User], list[Company]]:  # type: ignore[no-untyped-def]
    """Everything setup may have written."""
    with read_session(engine) as session:
        return list(session.exec(select(User))), list(session.exec(select(Company)))


@pytest.mark.parametrize(
    "path", ["/", "/login", "/settings/", "/settings/profile", "/settings/users/", "/nowhere"]
)
def test_every_page_redirects_to_setup_while_no_user_exists(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"] == "/setup"


def test_setup_page_is_shown_while_no_user_exists(client):
    response = client.get("/setup")
    assert response.status_code == 200
    assert b'name="company"' in response.data and b'name="domains"' in response.data


def test_setup_creates_company_and_admin_and_logs_in(client, engine):
    domains = "Acme.TEST\n@acme.com.br, acme.test\nACME.com.br"
    response = client.post("/setup", data=setup_data(domains=domains, email="Ana@Acme.TEST"))
    assert response.status_code == 302
    assert response.headers["Location"] == "/settings/users/"
    users, companies = users_and_companies(engine)
    assert [(c.name, c.domains) for c in companies] == [("Acme Ltda", ["acme.test", "acme.com.br"])]
    assert [(u.email, u.name, u.role, u.active) for u in users] == [
        ("ana@acme.test", "Ana Admin", "admin", True)
    ]
    assert client.get("/settings/users/").status_code == 200  # logged in, as an admin


@pytest.mark.parametrize("bad", ["acme", "-bad-.com", "acme..test", "acme_test.com", "1.2.3.4"])
def test_setup_refuses_an_invalid_domain(client, engine, bad):
    response = client.post("/setup", data=setup_data(domains=f"acme.test\n{bad}"))
    assert response.status_code == 422
    assert "is not a valid domain" in response.data.decode()
    assert users_and_companies(engine) == ([], [])


def test_setup_refuses_a_weak_password_with_a_message(client, engine):
    response = client.post("/setup", data=setup_data(password="short1", confirm="short1"))
    assert response.status_code == 422
    assert "Use at least 10 characters." in response.data.decode()
    assert users_and_companies(engine) == ([], [])


def test_setup_refuses_a_password_of_letters_only(client, engine):
    password = "onlyletterspassword"
    response = client.post("/setup", data=setup_data(password=password, confirm=password))
    assert response.status_code == 422
    assert "Mix letters with digits or symbols." in response.data.decode()
    assert users_and_companies(engine) == ([], [])


def test_setup_refuses_a_mismatched_confirmation(client, engine):
    response = client.post("/setup", data=setup_data(confirm=PASSWORD + "x"))
    assert response.status_code == 422
    assert "The passwords differ." in response.data.decode()
    assert users_and_companies(engine) == ([], [])


def test_setup_login_starts_a_new_session(client):
    with client.session_transaction() as session:
        session["planted"] = "by-an-attacker"
    assert client.post("/setup", data=setup_data()).status_code == 302
    with client.session_transaction() as session:
        assert "planted" not in session
        assert "_user_id" in session


def test_setup_is_gone_after_it_ran(client):
    assert client.post("/setup", data=setup_data()).status_code == 302
    assert client.get("/setup").status_code == 404
    assert client.post("/setup", data=setup_data(email="other@acme.test")).status_code == 404


def test_setup_is_gone_when_a_user_exists(client, admin):
    assert client.get("/setup").status_code == 404
    assert client.post("/setup", data=setup_data(email="other@acme.test")).status_code == 404


def test_pages_no_longer_redirect_to_setup_once_done(client, admin):
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_htmx_setup_error_returns_only_the_form_partial(client, engine):
    response = client.post(
        "/setup", data=setup_data(domains="acme"), headers={"HX-Request": "true"}
    )
    assert response.status_code == 422
    body = response.data.decode()
    assert body.lstrip().startswith("<form")
    assert "<html" not in body and "<body" not in body
    assert "is not a valid domain" in body
    assert users_and_companies(engine) == ([], [])


def test_htmx_setup_success_answers_with_hx_redirect(client, engine):
    response = client.post("/setup", data=setup_data(), headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == "/settings/users/"
    assert "Location" not in response.headers
    users, companies = users_and_companies(engine)
    assert len(users) == 1 and len(companies) == 1
    assert client.get("/settings/users/").status_code == 200
