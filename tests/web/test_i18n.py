"""Languages: pt_BR by default, English on request, complete catalogs, the viewer's time zone.

The tests that read Portuguese text fail until the pt_BR catalog is translated.
"""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_datetime
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from dashboard.db.engine import write_session
from dashboard.models import User
from tests.support.clients import log_in

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "dashboard" / "translations"


def catalog(language: str) -> Catalog:
    """Read one language's messages.po."""
    with (TRANSLATIONS / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=language)


def msgids(messages: Catalog) -> set[str | tuple[str, ...]]:
    """The message ids of a catalog (the header excluded)."""
    return {message.id for message in messages if message.id}


def translated(message) -> bool:  # type: ignore[no-untyped-def]
    """True when every form of the message has a non-fuzzy, non-empty translation."""
    strings = message.string if isinstance(message.string, tuple) else (message.string,)
    return not message.fuzzy and all(s and s.strip() for s in strings)


def page_language(response) -> str:  # type: ignore[no-untyped-def]
    """The lang attribute of a page's <html> element."""
    match = re.search(r'<html lang="([^"]+)"', response.data.decode())
    assert match, response.data[:200]
    return match.group(1)


def set_profile(engine, user: User, **values: str | None) -> None:  # type: ignore[no-untyped-def]
    """Change a user's profile fields directly in the database."""
    with write_session(engine) as session:
        record = session.get(User, user.id)
        for name, value in values.items():
            setattr(record, name, value)


# Which language is used (independent of the catalog's contents) ---------------------------


def test_default_language_is_pt_br(client, admin):
    assert page_language(client.get("/login")) == "pt-BR"


def test_browser_language_is_followed(client, admin):
    response = client.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert page_language(response) == "en"


def test_unsupported_browser_language_falls_back_to_pt_br(client, admin):
    response = client.get("/login", headers={"Accept-Language": "de-DE,de;q=0.9"})
    assert page_language(response) == "pt-BR"


def test_profile_language_beats_the_browser(app, admin, engine):
    set_profile(engine, admin, language="pt_BR")
    client = log_in(app.test_client(), admin.email)
    response = client.get("/", headers={"Accept-Language": "en"})
    assert page_language(response) == "pt-BR"


def test_language_switch_changes_the_language_and_the_profile(admin_client, admin, engine):
    response = admin_client.post("/language", data={"language": "en", "next": "/settings/profile"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/settings/profile"
    assert page_language(admin_client.get("/")) == "en"
    with write_session(engine) as session:
        assert session.get(User, admin.id).language == "en"


def test_language_switch_works_before_login(client, admin):
    client.post("/language", data={"language": "en", "next": "/login"})
    assert page_language(client.get("/login")) == "en"


def test_language_switch_refuses_an_outside_next(client, admin):
    response = client.post("/language", data={"language": "en", "next": "//evil.com/"})
    assert response.headers["Location"] == "/"


# Real Portuguese (fails until the pt_BR catalog is translated) -----------------------------


def test_login_page_is_in_portuguese_by_default(client, admin):
    page = client.get("/login").data.decode()
    assert "Entrar" in page
    assert "Senha" in page
    assert "Log in" not in page and "Password" not in page


def test_settings_panel_uses_the_products_portuguese_labels(admin_client):
    page = admin_client.get("/settings/profile").data.decode()
    for label in ("Configurações", "A Minha Conta", "Meu perfil", "A Minha Empresa"):
        assert label in page, label
    for label in ("Perfil da Empresa", "Usuários"):
        assert label in page, label
    assert "My profile" not in page and "Company profile" not in page


def test_login_page_is_in_english_when_asked(client, admin):
    page = client.get("/login", headers={"Accept-Language": "en"}).data.decode()
    assert "Log in" in page and "Password" in page
    assert "Entrar" not in page and "Senha" not in page


# Catalogs ----------------------------------------------------------------------------------


def test_every_message_has_a_pt_br_translation():
    portuguese = catalog("pt_BR")
    wanted = msgids(portuguese) | msgids(catalog("en"))
    missing = sorted(
        str(msgid)
        for msgid in wanted
        if not (portuguese.get(msgid) and translated(portuguese.get(msgid)))
    )
    assert missing == [], f"{len(missing)} untranslated pt_BR messages, e.g. {missing[:5]}"


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    """The messages the code and templates use now, extracted like `make extract` does."""
    pot = tmp_path_factory.mktemp("i18n") / "messages.pot"
    pybabel = Path(sys.executable).with_name("pybabel")
    subprocess.run(
        [str(pybabel), "extract", "-F", "babel.cfg", "-k", "_l", "-k", "lazy_gettext"]
        + ["-o", str(pot), "."],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as handle:
        return read_po(handle)


def test_pt_br_catalog_holds_every_message_the_code_uses(extracted):
    missing = sorted(str(msgid) for msgid in msgids(extracted) - msgids(catalog("pt_BR")))
    assert missing == [], f"{len(missing)} messages missing from pt_BR, e.g. {missing[:5]}"


def test_translations_keep_the_placeholders():
    for language in ("pt_BR", "en"):
        for message in catalog(language):
            if not message.id or not message.string or isinstance(message.id, tuple):
                continue
            wanted = sorted(re.findall(r"%\(\w+\)[sd]", message.id))
            assert sorted(re.findall(r"%\(\w+\)[sd]", message.string)) == wanted, message.id


# Time zones --------------------------------------------------------------------------------


def test_dates_are_shown_in_the_viewers_time_zone(admin_client, admin, rep, engine):
    moment = datetime(2026, 1, 2, 12, 34, tzinfo=UTC)
    set_profile(engine, rep, last_login_at=moment)
    set_profile(engine, admin, timezone="Asia/Tokyo", language="en")
    page = admin_client.get("/settings/users/").data.decode()
    tokyo = format_datetime(moment, "short", tzinfo=ZoneInfo("Asia/Tokyo"), locale="en")
    utc = format_datetime(moment, "short", tzinfo=ZoneInfo("UTC"), locale="en")
    assert tokyo in page
    assert utc not in page


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ _('Leads') }}", "Leads"),
        ("{{ _('100%% done') }}", "100% done"),  # "%%" still means "%", as in Jinja's gettext
        ("{{ _('%(n)d of %(total)d', n=2, total=5) }}", "2 of 5"),
        ("{{ _('<b>%(name)s</b>', name='<i>') }}", "<b>&lt;i&gt;</b>"),  # variables escaped
        ("{% trans %}Plain{% endtrans %}", "Plain"),
    ],
)
def test_the_per_page_gettext_behaves_like_jinjas_newstyle_gettext(source, expected) -> None:  # type: ignore[no-untyped-def]
    from jinja2 import Environment

    from dashboard.web.i18n import newstyle_gettext

    environment = Environment(autoescape=True, extensions=["jinja2.ext.i18n"])
    environment.install_gettext_callables(
        gettext=lambda s: s, ngettext=lambda s, p, n: s if n == 1 else p, newstyle=True
    )
    ours = newstyle_gettext(lambda message: message)
    template = environment.from_string(source)
    assert template.render() == expected  # Jinja's own
    assert template.render(gettext=ours, _=ours) == expected
