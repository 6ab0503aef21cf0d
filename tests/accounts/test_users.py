"""Users admin: list, add, edit, (de)activate, reset password, the last admin, and access."""

from __future__ import annotations

import pytest
from sqlmodel import select

from dashboard.db.engine import read_session
from dashboard.models import User
from tests.support import factories
from tests.support.clients import log_in
from tests.support.factories import PASSWORD

NEW_PASSWORD = "another-horse-77"
LAST_ADMIN = "The last active administrator cannot be demoted or deactivated."


@pytest.fixture
def app_config() -> dict:
    """English UI, so assertions read the msgids whatever the pt_BR catalog says."""
    return {"LANGUAGES": ("en", "pt_BR")}


def fetch(engine, user_id: int) -> User:  # type: ignore[no-untyped-def]
    """Read a user straight from the database."""
    with read_session(engine) as session:
        return session.get(User, user_id)


def all_emails(engine) -> list[str]:  # type: ignore[no-untyped-def]
    """Every user's address, sorted."""
    with read_session(engine) as session:
        return sorted(session.exec(select(User.email)))


def new_user_data(**changes: str) -> dict[str, str]:
    """A valid "add a user" form."""
    n = factories.next_number()
    data = {
        "name": f"Nova Rep {n}",
        "email": f"nova{n}@acme.test",
        "role": "rep",
        "password": PASSWORD,
        "confirm": PASSWORD,
    }
    return {**data, **changes}


def edit_data(user: User, **changes: str) -> dict[str, str]:
    """The edit form as it is filled for this user, with some fields changed."""
    return {"name": user.name, "email": user.email, "role": user.role, **changes}


def test_admin_lists_users(admin_client, admin, rep):
    response = admin_client.get("/settings/users/")
    assert response.status_code == 200
    page = response.data.decode()
    for user in (admin, rep):
        assert user.email in page and user.name in page
        assert f'href="/settings/users/{user.id}"' in page


def test_admin_adds_a_user_who_can_log_in(admin_client, engine, app):
    data = new_user_data(email="Nova.Rep@ACME.test")
    response = admin_client.post("/settings/users/", data=data)
    assert response.status_code == 200
    assert data["name"] in response.data.decode()
    with read_session(engine) as session:
        user = session.exec(select(User).where(User.email == "nova.rep@acme.test")).one()
    assert (user.name, user.role, user.active) == (data["name"], "rep", True)
    log_in(app.test_client(), "nova.rep@acme.test")


def test_admin_adds_another_admin(admin_client, engine):
    data = new_user_data(role="admin")
    assert admin_client.post("/settings/users/", data=data).status_code == 200
    with read_session(engine) as session:
        assert session.exec(select(User.role).where(User.email == data["email"])).one() == "admin"


def test_adding_a_duplicate_email_is_refused(admin_client, rep, engine):
    before = all_emails(engine)
    response = admin_client.post("/settings/users/", data=new_user_data(email=rep.email.upper()))
    assert response.status_code == 422
    assert "A user with this email already exists." in response.data.decode()
    assert all_emails(engine) == before


def test_adding_a_user_with_a_weak_password_is_refused(admin_client, engine):
    before = all_emails(engine)
    response = admin_client.post(
        "/settings/users/", data=new_user_data(password="abc", confirm="abc")
    )
    assert response.status_code == 422
    assert "Use at least 10 characters." in response.data.decode()
    assert all_emails(engine) == before


def test_adding_a_user_with_a_mismatched_confirmation_is_refused(admin_client, engine):
    before = all_emails(engine)
    response = admin_client.post("/settings/users/", data=new_user_data(confirm="x" + PASSWORD))
    assert response.status_code == 422
    assert all_emails(engine) == before


def test_admin_edits_a_user(admin_client, rep, engine):
    response = admin_client.post(
        f"/settings/users/{rep.id}",
        data=edit_data(rep, name="Renamed Rep", email="Renamed@acme.test", role="admin"),
    )
    assert response.status_code == 302
    user = fetch(engine, rep.id)
    assert (user.name, user.email, user.role) == ("Renamed Rep", "renamed@acme.test", "admin")


def test_editing_to_another_users_email_is_refused(admin_client, admin, rep, engine):
    response = admin_client.post(
        f"/settings/users/{rep.id}", data=edit_data(rep, email=admin.email)
    )
    assert response.status_code == 422
    assert "A user with this email already exists." in response.data.decode()
    assert fetch(engine, rep.id).email == rep.email


def test_editing_an_unknown_user_is_404(admin_client):
    assert admin_client.get("/settings/users/99999").status_code == 404


def test_admin_deactivates_and_reactivates_a_user(admin_client, rep, engine, app):
    assert admin_client.post(f"/settings/users/{rep.id}/active").status_code == 302
    assert fetch(engine, rep.id).active is False
    refused = app.test_client().post("/login", data={"email": rep.email, "password": PASSWORD})
    assert refused.status_code == 422
    assert admin_client.post(f"/settings/users/{rep.id}/active").status_code == 302
    assert fetch(engine, rep.id).active is True
    log_in(app.test_client(), rep.email)


def test_admin_resets_a_users_password(admin_client, rep, engine, app):
    response = admin_client.post(
        f"/settings/users/{rep.id}/password",
        data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert response.status_code == 302
    log_in(app.test_client(), rep.email, NEW_PASSWORD)
    old = app.test_client().post("/login", data={"email": rep.email, "password": PASSWORD})
    assert old.status_code == 422


def test_resetting_to_a_weak_password_is_refused(admin_client, rep, engine):
    response = admin_client.post(
        f"/settings/users/{rep.id}/password", data={"password": "abc", "confirm": "abc"}
    )
    assert response.status_code == 422
    assert "Use at least 10 characters." in response.data.decode()
    assert fetch(engine, rep.id).password_hash == rep.password_hash


def test_last_active_admin_cannot_be_demoted(admin_client, admin, engine):
    response = admin_client.post(
        f"/settings/users/{admin.id}", data=edit_data(admin, role="rep", name="Still Admin")
    )
    assert response.status_code == 422
    assert LAST_ADMIN in response.data.decode()
    user = fetch(engine, admin.id)
    assert (user.role, user.name) == ("admin", admin.name)


def test_last_active_admin_cannot_be_deactivated(admin_client, admin, engine):
    response = admin_client.post(f"/settings/users/{admin.id}/active", follow_redirects=True)
    assert response.status_code == 200
    assert LAST_ADMIN in response.data.decode()
    assert fetch(engine, admin.id).active is True
    assert admin_client.get("/").status_code == 200


def test_an_inactive_admin_does_not_count_as_another_admin(admin_client, admin, engine):
    other = factories.make_user(engine, role="admin")
    assert admin_client.post(f"/settings/users/{other.id}/active").status_code == 302
    response = admin_client.post(f"/settings/users/{admin.id}/active", follow_redirects=True)
    assert LAST_ADMIN in response.data.decode()
    assert fetch(engine, admin.id).active is True


def test_admin_can_be_demoted_when_another_admin_exists(admin_client, admin, engine):
    factories.make_user(engine, role="admin")
    response = admin_client.post(f"/settings/users/{admin.id}", data=edit_data(admin, role="rep"))
    assert response.status_code == 302
    assert fetch(engine, admin.id).role == "rep"
    assert admin_client.get("/settings/users/").status_code == 403  # now a rep


def test_admin_can_be_deactivated_when_another_admin_exists(admin_client, admin, engine, app):
    other = factories.make_user(engine, role="admin")
    other_client = log_in(app.test_client(), other.email)
    assert other_client.post(f"/settings/users/{admin.id}/active").status_code == 302
    assert fetch(engine, admin.id).active is False


ADMIN_URLS = [
    ("GET", "/settings/company"),
    ("POST", "/settings/company"),
    ("GET", "/settings/users/"),
    ("POST", "/settings/users/"),
    ("GET", "/settings/users/{id}"),
    ("POST", "/settings/users/{id}"),
    ("POST", "/settings/users/{id}/active"),
    ("POST", "/settings/users/{id}/password"),
]


@pytest.mark.parametrize(("method", "url"), ADMIN_URLS)
def test_rep_gets_403_on_every_admin_url(rep_client, rep, admin, engine, method, url):
    data = {
        "name": "Hijacked",
        "email": "hijack@acme.test",
        "role": "admin",
        "domains": "evil.test",
        "password": NEW_PASSWORD,
        "confirm": NEW_PASSWORD,
    }
    response = rep_client.open(url.format(id=admin.id), method=method, data=data)
    assert response.status_code == 403
    assert admin.email.encode() not in response.data
    user = fetch(engine, admin.id)
    assert (user.name, user.role, user.active, user.password_hash) == (
        admin.name,
        "admin",
        True,
        admin.password_hash,
    )
    assert "hijack@acme.test" not in all_emails(engine)


@pytest.mark.parametrize("user_id", ["{rep}", "99999"])
def test_rep_gets_403_even_for_their_own_or_a_missing_user(rep_client, rep, user_id):
    assert rep_client.get(f"/settings/users/{user_id.format(rep=rep.id)}").status_code == 403


@pytest.mark.parametrize(("method", "url"), ADMIN_URLS)
def test_anonymous_visitor_is_sent_to_login_from_every_admin_url(client, admin, method, url):
    response = client.open(url.format(id=admin.id), method=method, data={})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
