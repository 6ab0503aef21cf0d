"""Inline CSS of email bodies: which declarations are kept, and text that stays readable.

Pure (standard library only). Nothing kept here can fetch: no declaration holding url(),
image() or the like survives, and a background keeps at most its colour.

The readability rule. Backgrounds are where emails put images and gradients, so a
background often goes while the text colour chosen for it stays: white text on a dark
band would become white on the frame's white page. So:
1. a `background` shorthand keeps its colour as `background-color` (its url() and
   positions go); a gradient with no plain colour keeps its first colour stop, which is
   close enough to keep light text on it readable;
2. a light text colour (`color`, `<font color>`) is kept only when the element or an
   ancestor still shows a background colour (`background-color` or `bgcolor`); without
   one the text takes the page's own dark colour. Dark and mid text colours are always
   kept: they read on white whatever background they lost.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache

# Layout and typography only: nothing here accepts a url(), so no CSS property can fetch.
STYLE_PROPERTIES = frozenset(
    {"color", "background-color", "font", "font-family", "font-size", "font-style",
     "font-weight", "font-variant", "line-height", "letter-spacing", "word-spacing",
     "text-align", "text-decoration", "text-transform", "text-indent", "vertical-align",
     "white-space", "word-break", "word-wrap", "overflow-wrap", "direction", "display",
     "float", "clear", "width", "height", "min-width", "max-width", "min-height",
     "max-height", "margin", "margin-top", "margin-right", "margin-bottom", "margin-left",
     "padding", "padding-top", "padding-right", "padding-bottom", "padding-left", "border",
     "border-top", "border-right", "border-bottom", "border-left", "border-width",
     "border-style", "border-color", "border-collapse", "border-spacing", "border-radius",
     "table-layout", "list-style-type", "list-style-position", "overflow", "opacity"}
)  # fmt: skip
# A declaration holding any of these is dropped before nh3 filters property names.
CSS_DANGER = re.compile(
    r"(?:url|src|image|image-set|element)\s*\(|expression|@import|behavior|binding|\\|/\*", re.I
)
# What may hide or disguise CSS from our reading of it: escapes, comments, legacy hooks.
CSS_TRICKS = re.compile(r"\\|/\*|expression|@import|behavior|binding", re.I)
# One top-level token of a CSS value: a function call (nested parentheses included, one
# level deep is all colours and gradients need), a quoted string, or a bare word.
CSS_TOKEN = re.compile(r"[\w-]+\((?:[^()]|\([^()]*\))*\)|'[^']*'|\"[^\"]*\"|[^\s,()'\"/]+|,")
COLOR_FUNCTION = re.compile(r"(?:rgba?|hsla?)\(\s*[\d\s.,%/+-]*\)", re.I)
HEX_COLOR = re.compile(r"#(?:[0-9a-f]{3,4}|[0-9a-f]{6}|[0-9a-f]{8})", re.I)
COLOR_NAME = re.compile(r"[a-z]+", re.I)
GRADIENT = re.compile(r"(?:repeating-)?(?:linear|radial|conic)-gradient\(", re.I)
# Words of the background shorthand that are not colours.
BACKGROUND_WORDS = frozenset(
    {"none", "repeat", "repeat-x", "repeat-y", "no-repeat", "space", "round", "scroll",
     "fixed", "local", "center", "top", "bottom", "left", "right", "cover", "contain",
     "auto", "border-box", "padding-box", "content-box", "text", "inherit", "initial",
     "unset", "revert", "transparent", "currentcolor"}
)  # fmt: skip
NO_BACKGROUND = frozenset({"", "transparent", "none", "inherit", "initial", "unset", "revert"})
# Named colours a reader cannot see on white (contrast below 2:1), beside hex and rgb().
LIGHT_NAMES = frozenset(
    {"white", "snow", "ivory", "ghostwhite", "whitesmoke", "floralwhite", "linen", "seashell",
     "mintcream", "azure", "aliceblue", "honeydew", "lavenderblush", "oldlace", "cornsilk",
     "beige", "lightyellow", "lightcyan", "lightgoldenrodyellow", "lemonchiffon", "mistyrose",
     "papayawhip", "blanchedalmond", "bisque", "antiquewhite", "lavender", "gainsboro",
     "yellow", "lightgray", "lightgrey", "wheat", "palegoldenrod", "moccasin", "peachpuff"}
)  # fmt: skip
MIN_CONTRAST_ON_WHITE = 2.0  # below this, text on the frame's white page is all but invisible


def declarations(value: str) -> list[tuple[str, str]]:
    """(lowercased property, value) pairs of a style attribute, in order."""
    pairs = (part.partition(":") for part in value.split(";"))
    return [(name.strip().lower(), rest.strip()) for name, colon, rest in pairs if colon]


def color_token(token: str) -> str | None:
    """The token itself when it is a colour (hex, rgb()/hsl(), or a named colour)."""
    if HEX_COLOR.fullmatch(token) or COLOR_FUNCTION.fullmatch(token):
        return token
    named = COLOR_NAME.fullmatch(token) and token.lower() not in BACKGROUND_WORDS
    return token if named else None


def gradient_color(token: str) -> str | None:
    """The first hex or rgb()/hsl() colour stop of a gradient function, or None (its other
    words, "to right", "circle at top", are no colours; a named stop is not looked for)."""
    if not GRADIENT.match(token):
        return None
    inner = token[token.index("(") + 1 : -1]
    stops = (
        t for t in CSS_TOKEN.findall(inner) if HEX_COLOR.fullmatch(t) or COLOR_FUNCTION.fullmatch(t)
    )
    return next(stops, None)


def background_color(value: str) -> str | None:
    """The colour a `background` shorthand paints, without its images; None if it has none.

    The colour may only stand in the last layer; failing one, a gradient's first stop."""
    tokens = CSS_TOKEN.findall(value)
    last_layer = tokens[len(tokens) - tokens[::-1].index(",") :] if "," in tokens else tokens
    plain = [color for color in map(color_token, last_layer) if color]
    if plain:
        return plain[-1]
    return next(filter(None, map(gradient_color, tokens)), None)


def kept_declaration(name: str, value: str) -> str | None:
    """The declaration as kept ("name:value"), rewritten or None when it must go."""
    if name == "background" and not CSS_TRICKS.search(value):
        color = background_color(value)  # a colour token only: nothing of its images
        return f"background-color:{color}" if color else None
    if name in STYLE_PROPERTIES and not CSS_DANGER.search(value):
        return f"{name}:{value}"
    return None


def safe_style(value: str) -> str | None:
    """Keep only allow-listed declarations that cannot fetch or run anything."""
    kept = [kept_declaration(name, val) for name, val in declarations(value)]
    return ";".join(filter(None, kept)) or None


def rgb_of(color: str) -> tuple[float, float, float] | None:
    """(r, g, b) in 0..255 of a hex or rgb() colour, or None when it cannot be told."""
    color = color.strip()
    if HEX_COLOR.fullmatch(color):
        digits = color[1:]
        if len(digits) in (3, 4):
            digits = "".join(d * 2 for d in digits)
        red, green, blue = (float(int(digits[i : i + 2], 16)) for i in (0, 2, 4))
        return red, green, blue
    match = re.fullmatch(r"rgba?\(([^)]*)\)", color, re.I)
    if not match:
        return None
    parts = re.split(r"[\s,/]+", match.group(1).strip())[:3]
    try:
        channels = [float(p[:-1]) * 2.55 if p.endswith("%") else float(p) for p in parts]
    except ValueError:
        return None
    return (channels[0], channels[1], channels[2]) if len(channels) == 3 else None


def contrast_on_white(rgb: tuple[float, float, float]) -> float:
    """WCAG contrast ratio of this colour against white."""

    def linear(channel: float) -> float:
        c = min(max(channel, 0.0), 255.0) / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    red, green, blue = map(linear, rgb)
    luminance = 0.2126 * red + 0.7152 * green + 0.0722 * blue
    return 1.05 / (luminance + 0.05)


@lru_cache(maxsize=1024)
def is_light(color: str) -> bool:
    """True for a text colour that can hardly be read on white."""
    if color.strip().lower() in LIGHT_NAMES:
        return True
    rgb = rgb_of(color)
    return rgb is not None and contrast_on_white(rgb) < MIN_CONTRAST_ON_WHITE


def paints_background(attrs: dict[str, str]) -> bool:
    """True when the element shows a background colour of its own."""
    if attrs.get("bgcolor", "").strip().lower() not in NO_BACKGROUND:
        return True
    styled = dict(declarations(attrs.get("style", "")))
    return styled.get("background-color", "").lower() not in NO_BACKGROUND


VOID = frozenset({"br", "hr", "img", "wbr", "col", "area", "source", "track", "input"})
# nh3's serialization, read without a parser: text never holds a raw "<" (it is escaped),
# and every attribute value is double-quoted with its own quotes escaped.
TAG = re.compile(r'<(/?)([a-zA-Z][a-zA-Z0-9]*)((?:[^>"]+|"[^"]*")*)>')
ATTRIBUTE = re.compile(r'([^\s=/>"]+)(?:="([^"]*)")?')
# A text colour in a style or a <font color>; background-color and border-color excluded.
TEXT_COLOR = re.compile(r'(?<![\w-])color\s*(?::|=")\s*([^;"]+)', re.I)


def has_light_text(sanitized: str) -> bool:
    """True when some text colour in the HTML is light (the only case with work to do)."""
    return any(is_light(html.unescape(found)) for found in TEXT_COLOR.findall(sanitized))


def without_light_colour(attrs: dict[str, str]) -> dict[str, str]:
    """The attributes without a light `color` declaration or `<font color>`."""
    kept = dict(attrs)
    if "color" in kept and is_light(kept["color"]):
        del kept["color"]
    if "style" in kept:
        parts = [
            f"{name}:{value}"
            for name, value in declarations(kept["style"])
            if not (name == "color" and is_light(value))
        ]
        kept["style"] = ";".join(parts)
        if not parts:
            del kept["style"]
    return kept


def attributes(source: str) -> dict[str, str]:
    """The attributes of a serialized start tag, values unescaped."""
    return {name.lower(): html.unescape(value or "") for name, value in ATTRIBUTE.findall(source)}


def start_tag(tag: str, attrs: dict[str, str]) -> str:
    """A start tag written from scratch, every value quoted and escaped."""
    written = (f' {name}="{html.escape(value, quote=True)}"' for name, value in attrs.items())
    return f"<{tag}{''.join(written)}>"


def readable_colours(sanitized: str) -> str:
    """The sanitized HTML without the light text colours that have no background colour
    under them (on the element or an ancestor). Tags left as they are are copied verbatim."""
    if not has_light_text(sanitized):
        return sanitized
    out: list[str] = []
    open_elements: list[tuple[str, bool]] = []  # (tag, a background colour at or above it)
    copied = 0
    for match in TAG.finditer(sanitized):
        closing, tag, rest = match.group(1), match.group(2).lower(), match.group(3)
        if closing:
            while open_elements and open_elements.pop()[0] != tag:
                pass  # close the element and any left open inside it
            continue
        # Under a background colour nothing changes, and the attributes need no reading.
        covered = bool(open_elements and open_elements[-1][1])
        attrs = {} if covered else attributes(rest)
        covered = covered or paints_background(attrs)
        if tag not in VOID:
            open_elements.append((tag, covered))
        kept = attrs if covered else without_light_colour(attrs)
        if kept != attrs:
            out += [sanitized[copied : match.start()], start_tag(tag, kept)]
            copied = match.end()
    out.append(sanitized[copied:])
    return "".join(out)
