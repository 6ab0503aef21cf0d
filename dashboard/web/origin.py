"""State-changing requests must come from LeadSync's own pages: besides the CSRF token, every
request other than GET, HEAD and OPTIONS that names where it comes from (the `Origin`
header, or `Referer` when a browser sends no Origin) must name this site, or it is refused
with 403.

"This site" is the address the request came to (its scheme and Host) and the configured
public address (`LEADSYNC_PUBLIC_URL`), for a reverse proxy that rewrites the Host header.
Behind a proxy that terminates TLS but keeps the Host, the browser's origin is
`https://host` while the request arrives as `http://host`: an https origin with the very
same host name is accepted (the reverse, an http page posting to an https site, is not).
A request with neither header (a non-browser client) is let through; the CSRF token still
applies to it.
"""

from __future__ import annotations

from typing import NamedTuple
from urllib.parse import urlsplit

from flask import Flask, current_app, render_template, request
from flask_babel import gettext as _

UNCHECKED_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DEFAULT_PORTS = {"http": 80, "https": 443}


class SiteOrigin(NamedTuple):
    """A web origin: scheme, lower-case host name, port (the scheme's default if unwritten)."""

    scheme: str
    host: str
    port: int
    port_written: bool


def parse_origin(url: str) -> SiteOrigin | None:
    """The origin of a URL or Origin header, or None when it names none ("null", garbage)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    written = port is not None
    return SiteOrigin(scheme, parts.hostname.lower(), port or DEFAULT_PORTS[scheme], written)


def is_own_origin(source: str, *, scheme: str, host: str, public_url: str | None) -> bool:
    """Whether an Origin/Referer value names this site: the request's own scheme and Host,
    the public URL, or https on the request's host name when TLS ended at a proxy."""
    claimed = parse_origin(source)
    if claimed is None:
        return False
    here = parse_origin(f"{scheme}://{host}")
    public = parse_origin(public_url) if public_url else None
    if claimed[:3] in {o[:3] for o in (here, public) if o is not None}:
        return True
    return (
        here is not None
        and here.scheme == "http"
        and not here.port_written
        and claimed.scheme == "https"
        and not claimed.port_written
        and claimed.host == here.host
    )


def check_origin() -> tuple[str, int] | None:
    """Refuse a state-changing request that says it comes from another site."""
    if request.method in UNCHECKED_METHODS:
        return None
    source = request.headers.get("Origin") or request.headers.get("Referer")
    if source is None:
        return None
    if is_own_origin(
        source,
        scheme=request.scheme,
        host=request.host,
        public_url=current_app.config.get("PUBLIC_URL"),
    ):
        return None
    message = _(
        "This request came from another site, so it was refused. Open LeadSync at its own "
        "address and try again."
    )
    return render_template("error.html", code=403, error=None, message=message), 403


def init_app(app: Flask) -> None:
    """Check every state-changing request (registered before the CSRF check runs)."""
    app.before_request(check_origin)
