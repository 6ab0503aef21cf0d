"""Sanitizing removes what could run or fetch, never what the reader should see: a dark band
keeps its colour (or its light text gives up its own), an inline SVG keeps its words."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from dashboard.emails.sanitize import sanitize_html
from dashboard.mail.body_text import html_to_text, join_html
from dashboard.mail.mime import Part

HTML_PART = Part("1", "text/html", "utf-8", "7bit", 10, None, None, False)


def clean(html: str) -> str:
    """The body as the lead page shows it by default (remote images blocked)."""
    return sanitize_html(html, allow_remote_images=False)


def styles(html: str) -> list[str]:
    """Every style attribute of the sanitized output, in order."""
    return re.findall(r'style="([^"]*)"', html)


@pytest.mark.parametrize(
    ("background", "kept"),
    [
        ("background:#1a1a1a url(x.png) no-repeat", "background-color:#1a1a1a"),
        ("background: url(x.png) no-repeat center / cover #1A1A1A", "background-color:#1A1A1A"),
        ("background:rgb(26, 26, 26)", "background-color:rgb(26, 26, 26)"),
        ("background: rgba(0,0,0,.8) url('x.png')", "background-color:rgba(0, 0, 0, 0.8)"),
        ("background:navy url(x.png) repeat-x", "background-color:navy"),
        ("background: url(a.png), #202020 url(b.png) top left", "background-color:#202020"),
        # A gradient's first colour stands in for it: the band stays dark.
        ("background: linear-gradient(to right, #111 0%, #444 100%)", "background-color:#111"),
        ("background:linear-gradient(rgba(0,0,0,.9),#333)", "background-color:rgba(0, 0, 0, 0.9)"),
    ],
)
def test_the_colour_of_a_background_shorthand_is_kept(background: str, kept: str) -> None:
    cleaned = clean(f'<div style="{background};color:#fff">Oferta</div>')
    assert styles(cleaned) == [f"{kept};color:#fff"]
    assert "url" not in cleaned and "gradient" not in cleaned


@pytest.mark.parametrize(
    "html",
    [
        '<div style="background:url(x.png) no-repeat;color:#fff">Oferta</div>',
        '<div style="background-image:url(x.png);color:#FFFFFF">Oferta</div>',
        '<div style="color:white;background:url(x.png)">Oferta</div>',
        '<div style="background:url(x.png)"><p style="color:rgb(255,255,255)">Oferta</p></div>',
        '<table style="background-image:url(x.png)"><tr><td><h1 style="color:#eee">Oferta</h1>'
        "</td></tr></table>",
    ],
)
def test_light_text_loses_its_colour_when_no_background_colour_survives(html: str) -> None:
    cleaned = clean(html)
    assert "Oferta" in cleaned
    assert not any("color" in style for style in styles(cleaned)), cleaned


def test_dark_text_keeps_its_colour_when_its_background_goes() -> None:
    cleaned = clean('<p style="background:url(x.png);color:#c00;font-weight:bold">Oferta</p>')
    assert styles(cleaned) == ["color:#c00;font-weight:bold"]


@pytest.mark.parametrize(
    "html",
    [
        '<table bgcolor="#1a1a1a"><tr><td style="color:#fff">Oferta</td></tr></table>',
        '<table><tr><td bgcolor="#1a1a1a" style="background:url(x.png);color:#fff">Oferta</td>'
        "</tr></table>",
        '<div style="background-color:#000"><p><span style="color:#fff">Oferta</span></p></div>',
        '<div style="background:#1a1a1a url(x.png)"><p style="color:#fff">Oferta</p></div>',
    ],
)
def test_light_text_over_a_surviving_background_keeps_its_colour(html: str) -> None:
    assert "color:#fff" in clean(html)


def test_a_light_font_colour_goes_with_its_background_too() -> None:
    lost = clean('<div style="background:url(x.png)"><font color="#ffffff">Oferta</font></div>')
    kept = clean(
        '<table bgcolor="#000"><tr><td><font color="#ffffff">Oferta</font></td></tr></table>'
    )
    assert "<font>Oferta</font>" in lost
    assert '<font color="#ffffff">Oferta</font>' in kept


def test_readable_colours_do_not_change_on_a_second_pass() -> None:
    band = '<div style="background:#222 url(x.png)"><p style="color:#fff">a</p></div>'
    once = clean(band + '<p style="color:#fff">b</p>')
    assert once.endswith("<p>b</p>") and clean(once) == once


def test_an_inline_svg_keeps_its_text_and_nothing_else() -> None:
    html = (
        '<p>Antes</p><svg width="200" onload="alert(1)"><title>Gráfico</title>'
        '<rect width="10" height="10"/><text x="5" y="15">Vendas <tspan>+12%</tspan></text>'
        '<text x="5" y="30">em 2025 &amp; 2026</text><script>alert(1)</script></svg><p>Depois</p>'
    )
    cleaned = clean(html)
    assert cleaned == "<p>Antes</p><span>Vendas +12% em 2025 &amp; 2026</span><p>Depois</p>"


def test_an_svg_without_text_still_disappears() -> None:
    assert (
        clean('<p>a</p><svg><circle r="5"/><desc>círculo</desc></svg><p>b</p>')
        == "<p>a</p><p>b</p>"
    )


def test_svg_text_cannot_smuggle_markup() -> None:
    html = (
        "<svg><text>&lt;img src=x onerror=alert(1)&gt;</text>"
        "<text><![CDATA[<b>x</b>]]></text></svg>"
    )
    cleaned = clean(html)
    assert "<img" not in cleaned and "<b>" not in cleaned
    assert cleaned.startswith("<span>&lt;img src=x onerror=alert(1)&gt;")


def test_svg_like_names_and_self_closed_svgs_hide_nothing_around_them() -> None:
    html = "<svg-icon>a</svg-icon><p>b</p><svg/><p>c</p><svg><text>d</text></svg>"
    assert clean(html) == "a<p>b</p><p>c</p><span>d</span>"


def test_each_part_of_a_joined_body_is_sanitized_on_its_own() -> None:
    first = '<p>Um</p><div style="display:none"><!-- unclosed <title>'
    second = "<p>Dois</p><script>alert(1)</script>"
    cleaned = clean(join_html([(HTML_PART, first), (HTML_PART, second)]))
    assert cleaned == '<p>Um</p><div style="display:none"></div><p>Dois</p>'


def test_a_plain_text_part_among_html_parts_is_shown_as_text() -> None:
    footer = replace(HTML_PART, section="2", content_type="text/plain")
    joined = join_html([(HTML_PART, "<p>Oferta</p>"), (footer, "Lista <vendas>\n-- \nSair")])
    cleaned = clean(joined)
    assert cleaned.endswith(
        '<div style="white-space:pre-wrap">Lista &lt;vendas&gt;\n-- \nSair</div>'
    )
    assert html_to_text(joined) == "Oferta\n\nLista <vendas>\n--\nSair"
