"""The settings shell: side panel, "My profile" and "Company profile" (name and domains)."""

from __future__ import annotations

import re

import pytest

from dashboard.accounts import service as accounts
from dashboard.db.engine import read_session
from dashboard.models import User


@pytest.fixture
def app_config() -> dict:
    """English UI, so assertions read the msgids whatever the pt_BR catalog says."""
    return {"LANGUAGES": ("en", "pt_BR")}


def side_panel(html: str) -> str:
    """The settings side panel of a page."""
    match = re.search(r'<nav class="sidepanel".*?</nav>', html, re.S)
    assert match, "no settings side panel"
    return match.group(0)


def current_item(html: str) -> list[str]:
    """The hrefs marked aria-current in the side panel."""
    return re.findall(r'href="([^"]+)"\s+aria-current="page"', side_panel(html))


def company(engine):  # type: ignore[no-untyped-def]
    """The company record."""
    with read_session(engine) as session:
        return accounts.get_company(session)


def test_settings_opens_my_profile(admin_client):
    response = admin_client.get("/settings/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/settings/profile"


def test_admin_side_panel_offers_profile_company_and_users(admin_client):
    panel = side_panel(admin_client.get("/settings/profile").data.decode())
    for href in ("/settings/profile", "/settings/company", "/settings/users/"):
        assert f'href="{href}"' in panel, href


def test_rep_side_panel_offers_only_the_own_account(rep_client):
    panel = side_panel(rep_client.get("/settings/profile").data.decode())
    assert 'href="/settings/profile"' in panel
    assert "/settings/company" not in panel and "/settings/users/" not in panel


@pytest.mark.parametrize("url", ["/settings/profile", "/settings/company", "/settings/users/"])
def test_active_settings_item_is_highlighted(admin_client, url):
    assert current_item(admin_client.get(url).data.decode()) == [url]


def test_user_edits_own_profile(rep_client, rep, engine):
    data = {"name": "  Rita Rep  ", "language": "en", "timezone": "Europe/Lisbon"}
    response = rep_client.post("/settings/profile", data=data)
    assert response.status_code == 200
    assert "Profile saved." in response.data.decode()
    with read_session(engine) as session:
        user = session.get(User, rep.id)
    assert (user.name, user.language, user.timezone) == ("Rita Rep", "en", "Europe/Lisbon")


def test_profile_refuses_an_unknown_time_zone(rep_client, rep, engine):
    data = {"name": "Rita", "language": "en", "timezone": "Mars/Olympus"}
    assert rep_client.post("/settings/profile", data=data).status_code == 422
    with read_session(engine) as session:
        assert session.get(User, rep.id).timezone is None


def test_htmx_profile_post_returns_only_the_form(rep_client):
    data = {"name": "", "language": "en", "timezone": "UTC"}
    response = rep_client.post("/settings/profile", data=data, headers={"HX-Request": "true"})
    assert response.status_code == 422
    body = response.data.decode().lstrip()
    assert body.startswith("<form") and "<html" not in body


def test_admin_edits_company_name_and_domains(admin_client, engine):
    data = {"name": " Acme Brasil ", "domains": "ACME.test\nacme.com.br, acme.test\n@Acme.COM.br"}
    response = admin_client.post("/settings/company", data=data)
    assert response.status_code == 200
    assert "Company profile saved." in response.data.decode()
    record = company(engine)
    assert (record.name, record.domains) == ("Acme Brasil", ["acme.test", "acme.com.br"])


@pytest.mark.parametrize("bad", ["acme", "-bad-.com", "acme .test", "http://acme.test"])
def test_company_domains_are_validated(admin_client, engine, bad):
    before = company(engine)
    response = admin_client.post("/settings/company", data={"name": "Other", "domains": bad})
    assert response.status_code == 422
    assert "is not a valid domain" in response.data.decode()
    after = company(engine)
    assert (after.name, after.domains) == (before.name, before.domains)


def test_company_needs_at_least_one_domain(admin_client, engine):
    before = company(engine).domains
    response = admin_client.post("/settings/company", data={"name": "Acme", "domains": " , "})
    assert response.status_code == 422
    assert company(engine).domains == before


def test_htmx_company_post_returns_only_the_form(admin_client):
    response = admin_client.post(
        "/settings/company",
        data={"name": "Acme", "domains": "acme"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 422
    body = response.data.decode().lstrip()
    assert body.startswith("<form") and "<html" not in body
    assert 'id="company-form"' in body
