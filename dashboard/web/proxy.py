"""Behind a reverse proxy: believe the X-Forwarded-For and X-Forwarded-Proto headers of
LEADSYNC_TRUSTED_PROXIES proxies (werkzeug's ProxyFix), so `request.remote_addr` is the
client's address (the login throttle counts it) and `request.scheme` is https when TLS
ended at the proxy (cookies get Secure; the origin check compares https origins).

With 0 (the default) nothing is believed: a client could write any X-Forwarded-For. Each
proxy appends to the headers, so ProxyFix takes the value the n-th proxy from us wrote, never
one the client sent. X-Forwarded-Host is not believed: a proxy that forwards `Host` (nginx's
`proxy_set_header Host $host`, Caddy's default) needs nothing more, and one that does not set
X-Forwarded-Host would pass the client's on; set LEADSYNC_PUBLIC_URL for proxies that rewrite
`Host`.
"""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix


def trusted_hops(app: Flask) -> int:
    """How many proxies in front of the app to believe (0: none)."""
    return max(0, int(app.config.get("TRUSTED_PROXIES") or 0))


def init_app(app: Flask) -> None:
    """Wrap the whole app (last, so every other middleware sees the client's values)."""
    hops = trusted_hops(app)
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
