"""Numbers in the viewer's language: file sizes with the locale's decimal mark."""

from __future__ import annotations

from flask_babel import format_decimal, ngettext

# Decimal units, as mail programs and file managers show them (1 kB = 1,000 bytes).
UNITS = (("GB", 1000**3), ("MB", 1000**2), ("kB", 1000))


def size_parts(octets: int) -> tuple[float, str]:
    """The number and unit a size reads best in: (1.5, "MB") for 1,500,000 bytes;
    (532, "") for bytes, which are counted in words."""
    for unit, scale in UNITS:
        if octets >= scale:
            return octets / scale, unit
    return octets, ""


def format_size(octets: int) -> str:
    """A file size in the viewer's language: "1,5 MB" in Portuguese, "1.5 MB" in English."""
    number, unit = size_parts(max(octets, 0))
    if not unit:
        count = int(number)
        return ngettext("%(size)s byte", "%(size)s bytes", count, size=format_decimal(count))
    return f"{format_decimal(number, '#,##0.#')} {unit}"
