"""Email bodies: the nh3 allow-list against hostile samples, real mail layouts, plain text."""

from __future__ import annotations

import re
from html import escape as html_escape
from html.parser import HTMLParser
from pathlib import Path

import pytest

from dashboard.emails.sanitize import (
    ATTRIBUTES,
    TAGS,
    body_document,
    has_remote_images,
    sanitize_html,
    text_to_html,
    url_scheme,
)

HOSTILE = Path(__file__).resolve().parent.parent / "data" / "hostile"
SAMPLES = sorted(HOSTILE.glob("*.html"))
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "poster", "ping", "cite"}
CSS_FETCH = re.compile(r"url\s*\(|expression|@import|behavior|binding|image", re.I)


class Element(HTMLParser):
    """Collects every start tag with its attributes, as a browser would see them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, {name: value or "" for name, value in attrs}))


def elements(html: str) -> list[tuple[str, dict[str, str]]]:
    """Parse sanitized output into (tag, attributes) pairs."""
    parser = Element()
    parser.feed(html)
    parser.close()
    return parser.found


def allowed_names(tag: str) -> set[str]:
    """Attributes the allow-list grants a tag, plus the two the sanitizer sets on links."""
    extra = {"target", "rel"} if tag == "a" else set()
    return ATTRIBUTES["*"] | ATTRIBUTES.get(tag, set()) | extra


def assert_inert(html: str, *, remote_images: bool) -> None:
    """Nothing in sanitized HTML can run, fetch anything unexpected, or drive htmx."""
    assert "<script" not in html.lower()
    for tag, attrs in elements(html):
        assert tag in TAGS, tag
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name)
            assert not name.startswith(("hx-", "data-")), (tag, name)
            assert name in allowed_names(tag), (tag, name)
            lowered = re.sub(r"[\x00-\x20]", "", value).lower()
            assert not lowered.startswith(("javascript:", "vbscript:", "data:text")), value
            if name in URL_ATTRIBUTES:
                assert_url_is_safe(tag, name, value, remote_images=remote_images)
            if name == "style":
                assert not CSS_FETCH.search(value), value


def assert_url_is_safe(tag: str, name: str, value: str, *, remote_images: bool) -> None:
    """Links: web, mail and phone only; images: inline data, or remote when allowed."""
    scheme = url_scheme(value)
    if tag == "a":
        assert scheme in {"http", "https", "mailto", "tel"}, value
        return
    assert (tag, name) == ("img", "src"), (tag, name)
    if scheme == "data":
        assert re.match(r"data:image/(png|gif|jpeg|jpg|webp);base64,", value), value
    else:
        assert remote_images and scheme in {"http", "https"}, value


@pytest.mark.parametrize("sample", SAMPLES, ids=[path.stem for path in SAMPLES])
@pytest.mark.parametrize("remote_images", [False, True], ids=["blocked", "allowed"])
def test_hostile_sample_is_inert_after_sanitizing(sample: Path, remote_images: bool):
    cleaned = sanitize_html(
        sample.read_text(), allow_remote_images=remote_images, inline_images={"x": "/a/1"}
    )
    assert_inert(cleaned, remote_images=remote_images)


def test_there_are_at_least_thirty_hostile_samples():
    assert len(SAMPLES) >= 30


def test_sanitizing_twice_changes_nothing_more():
    for sample in SAMPLES:
        once = sanitize_html(sample.read_text(), allow_remote_images=False)
        twice = sanitize_html(once, allow_remote_images=False)
        assert elements(twice) == elements(once), sample.name


NEWSLETTER = """
<html><head><style>.x{color:red}</style><title>Proposta</title></head><body>
<table width="600" cellpadding="4" cellspacing="0" border="0" bgcolor="#ffffff">
  <tr><td align="center" valign="top" style="font-family: Arial; font-size: 14px; color:#333">
    <img src="cid:logo@acme.test" alt="Acme" width="120">
    <h1>Proposta comercial</h1>
    <p>Olá <b>Ana</b>, segue a <strong>proposta</strong> <i>revisada</i>.</p>
    <p><a href="https://acme.test/proposta?id=7&amp;v=2">Ver proposta</a> ·
       <a href="mailto:vendas@acme.test">vendas@acme.test</a> ·
       <a href="tel:+551199999999">ligar</a></p>
    <img src="https://cdn.acme.test/banner.png" alt="Banner">
    <ul><li>Item um</li><li>Item dois</li></ul>
    <font color="#990000" face="Georgia" size="2">assinatura</font>
  </td></tr>
</table>
</body></html>
"""
INLINE = {"<logo@acme.test>": "/attachments/41"}


def test_newsletter_keeps_its_layout_links_and_formatting():
    cleaned = sanitize_html(NEWSLETTER, allow_remote_images=False, inline_images=INLINE)
    tags = [tag for tag, _ in elements(cleaned)]
    for tag in ("table", "tr", "td", "h1", "b", "strong", "i", "ul", "li", "font"):
        assert tag in tags, tag
    assert 'width="600"' in cleaned and 'valign="top"' in cleaned
    assert "font-family:Arial" in cleaned.replace(" ", "")
    assert 'href="https://acme.test/proposta?id=7&amp;v=2"' in cleaned
    assert 'href="mailto:vendas@acme.test"' in cleaned and 'href="tel:+551199999999"' in cleaned
    assert "Proposta" not in cleaned.split("<table")[0]  # the <title> text is gone
    assert ".x{color:red}" not in cleaned


def test_links_open_in_a_new_tab_without_opener_or_referrer():
    cleaned = sanitize_html(NEWSLETTER, allow_remote_images=False, inline_images=INLINE)
    links = [attrs for tag, attrs in elements(cleaned) if tag == "a"]
    assert links
    for attrs in links:
        assert attrs["target"] == "_blank"
        assert set(attrs["rel"].split()) == {"noopener", "noreferrer", "nofollow"}


def test_cid_images_point_at_the_inline_attachment():
    cleaned = sanitize_html(NEWSLETTER, allow_remote_images=False, inline_images=INLINE)
    assert '<img src="/attachments/41" alt="Acme" width="120">' in cleaned


def test_unknown_cid_and_app_relative_images_are_dropped():
    html = '<img src="cid:other@x" alt="a"><img src="/attachments/41" alt="b">'
    assert sanitize_html(html, allow_remote_images=True) == '<img alt="a"><img alt="b">'


def test_remote_images_appear_only_when_allowed():
    blocked = sanitize_html(NEWSLETTER, allow_remote_images=False, inline_images=INLINE)
    allowed = sanitize_html(NEWSLETTER, allow_remote_images=True, inline_images=INLINE)
    assert "cdn.acme.test" not in blocked and '<img alt="Banner">' in blocked
    assert '<img src="https://cdn.acme.test/banner.png" alt="Banner">' in allowed


def test_remote_images_are_detected():
    assert has_remote_images(NEWSLETTER)
    assert has_remote_images('<img src=" HTTP://x.test/p.gif">')
    assert not has_remote_images('<img src="cid:logo@acme.test"><p>http://x.test/</p>')
    assert not has_remote_images('<div style="background:url(http://x.test/bg.gif)">x</div>')


def test_inline_data_images_are_kept_only_for_raster_types():
    png = "data:image/png;base64,iVBORw0KGgo="
    assert f'src="{png}"' in sanitize_html(f'<img src="{png}">', allow_remote_images=False)
    for kind in ("image/svg+xml", "text/html", "application/octet-stream"):
        html = f'<img src="data:{kind};base64,PHN2Zz4=">'
        assert sanitize_html(html, allow_remote_images=True) == "<img>"
    assert sanitize_html(f'<a href="{png}">x</a>', allow_remote_images=True).count("href") == 0


def test_safe_css_survives_and_fetching_css_does_not():
    html = '<p style="color:#c00; background:url(x.gif); position:fixed; font-weight:bold">t</p>'
    cleaned = sanitize_html(html, allow_remote_images=True)
    assert 'style="color:#c00;font-weight:bold"' in cleaned


def test_text_links_are_clickable_and_escaped():
    html = text_to_html("Veja https://acme.test/a?b=1&c=<2>, ou mailto:ana@x.test. <b>oi</b>")
    assert (
        '<a href="https://acme.test/a?b=1&amp;c=" target="_blank" '
        'rel="noopener noreferrer nofollow">https://acme.test/a?b=1&amp;c=</a>'
    ) in html
    assert 'href="mailto:ana@x.test"' in html and "mailto:ana@x.test</a>." in html
    assert "&lt;b&gt;oi&lt;/b&gt;" in html and "<b>" not in html


def test_text_link_keeps_balanced_parentheses_and_drops_trailing_punctuation():
    html = text_to_html("(see https://en.wikipedia.org/wiki/Foo_(bar)) and https://x.test/.")
    assert 'href="https://en.wikipedia.org/wiki/Foo_(bar)"' in html
    assert 'href="https://x.test/"' in html


def test_text_never_turns_other_schemes_into_links():
    html = text_to_html('javascript:alert(1) data:text/html,x "><script>alert(1)</script>')
    assert "<a " not in html and "<script" not in html


def collapsed_parts(html: str) -> list[str]:
    """The contents of each collapsed block."""
    pattern = r'<details class="quoted"><summary>[^<]*</summary>(.*?)</details>'
    return re.findall(pattern, html, re.S)


def test_portuguese_reply_history_is_collapsed():
    text = (
        "Oi Ana, combinado.\n\n"
        "Em seg., 3 de mar. de 2025 às 10:00, Ana <ana@x.com> escreveu:\n"
        "> Podemos marcar amanhã?\n"
        "> Abraço\n"
    )
    html = text_to_html(text, summary="Mostrar texto citado")
    assert html.startswith('<div class="plain">Oi Ana, combinado.')
    assert "<summary>Mostrar texto citado</summary>" in html
    [old] = collapsed_parts(html)
    assert old.startswith("Em seg., 3 de mar. de 2025 às 10:00, Ana &lt;ana@x.com&gt; escreveu:")
    assert "&gt; Podemos marcar amanhã?" in old


def test_english_reply_history_wrapped_by_the_mail_client_is_collapsed():
    text = (
        "Sounds good.\n\nOn Mon, Mar 3, 2025 at 10:00 AM Ana Souza <\nana@x.com> wrote:\n"
        "> Shall we meet?\n"
    )
    html = text_to_html(text, summary="Show quoted text")
    [old] = collapsed_parts(html)
    assert old.startswith("On Mon, Mar 3, 2025") and "Shall we meet?" in old
    assert html.split("<details")[0] == '<div class="plain">Sounds good.'


@pytest.mark.parametrize(
    "header",
    [
        "-----Original Message-----\nFrom: Ana\nSent: Monday",
        "-----Mensagem original-----\nDe: Ana",
        "________________________________\nDe: Ana Souza\nEnviado: segunda\nAssunto: Oi",
        "De: Ana <ana@x.com>\nEnviada em: 3 de março de 2025 10:00\nPara: Rui\nAssunto: Oi",
        "From: Ana Souza\nSent: Monday, March 3, 2025 10:00 AM\nTo: Rui\nSubject: Hi",
    ],
)
def test_outlook_history_is_collapsed(header: str):
    html = text_to_html(f"Segue.\n\n{header}\nTexto antigo\n", summary="…")
    [old] = collapsed_parts(html)
    assert old.startswith(html_escape(header.split("\n")[0])) and "Texto antigo" in old
    assert html.split("<details")[0] == '<div class="plain">Segue.'


def test_a_lone_de_line_in_the_text_is_not_history():
    html = text_to_html("De: São Paulo\nPara: Rio\nData: amanhã\n", summary="…")
    assert "<details" not in html


def test_inline_quoted_runs_collapse_each_on_their_own():
    html = text_to_html("> pergunta 1\nresposta 1\n> pergunta 2\nresposta 2", summary="…")
    assert collapsed_parts(html) == ["&gt; pergunta 1", "&gt; pergunta 2"]
    assert "resposta 1" in html.replace("</details>", "|") and "resposta 2" in html


def test_summary_text_is_escaped():
    html = text_to_html("> x", summary="<b>mostrar</b>")
    assert "<summary>&lt;b&gt;mostrar&lt;/b&gt;</summary>" in html


def test_body_document_is_complete_and_has_no_base_or_script():
    document = body_document("<p>oi</p>")
    assert document.startswith('<!doctype html><html><head><meta charset="utf-8">')
    assert document.endswith("<body><p>oi</p></body></html>")
    assert "<base" not in document and "<script" not in document
    assert '<meta name="referrer" content="no-referrer">' in document
