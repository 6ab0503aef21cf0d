"""IDLE test helpers: a loopback relay in front of Dovecot that counts connections, can cut
the open ones (a dropped IDLE) and can drop every new one at once (a server turning us
away), and a supervisor with short timings."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator

from flask import Flask

from dashboard.db.flask import secret_box
from dashboard.sync.idle import IdleConfig, IdleSupervisor
from dashboard.sync.runner import RunOptions
from dashboard.sync.scheduler import oauth_config


class DroppingRelay:
    """Forwards 127.0.0.1:port to Dovecot's port, byte for byte (TLS still verifies)."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.accepted = 0
        self.drop_new = False
        self.pairs: list[tuple[socket.socket, socket.socket]] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                self.accepted += 1
            if self.drop_new:
                close_both(client)
                continue
            server = socket.create_connection(("127.0.0.1", self.upstream_port))
            with self.lock:
                self.pairs.append((client, server))
            for src, dst in ((client, server), (server, client)):
                threading.Thread(target=pump, args=(src, dst), daemon=True).start()

    def cut_all(self) -> None:
        """Drop every open connection, as a restarting server does."""
        with self.lock:
            pairs, self.pairs = self.pairs, []
        for pair in pairs:
            close_both(*pair)

    def close(self) -> None:
        """Stop accepting and drop everything."""
        self.listener.close()
        self.cut_all()


def pump(src: socket.socket, dst: socket.socket) -> None:
    """Copy bytes one way until either side closes."""
    with contextlib.suppress(OSError):
        while data := src.recv(65536):
            dst.sendall(data)
    close_both(src, dst)


def close_both(*sockets: socket.socket) -> None:
    """Shut down and close sockets, ignoring those already closed."""
    for sock in sockets:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            sock.close()


def quick_config(**overrides: float) -> IdleConfig:
    """Timings short enough for a test."""
    values = {"reconcile": 0.2, "backoff_base": 0.2, "backoff_ceiling": 1.0, "busy_retry": 0.2}
    values.update(overrides)
    return IdleConfig(**values)


@contextlib.contextmanager
def idle_supervisor(app: Flask, **timings: float) -> Iterator[IdleSupervisor]:
    """A running supervisor for the app's database, stopped at the end."""
    supervisor = IdleSupervisor(
        app.extensions["leadsync.engine"],
        secret_box(app),
        RunOptions(
            ca_file=app.config["IMAP_CA_FILE"],
            connections=1,
            timeout=10.0,
            oauth=oauth_config(app),
        ),  # fmt: skip
        quick_config(**timings),
    )
    supervisor.start()
    try:
        yield supervisor
    finally:
        supervisor.stop()


def wait_until(condition: Callable[[], object], timeout: float, step: float = 0.05) -> float:
    """Seconds until `condition()` is true; AssertionError after `timeout`."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not true within {timeout} s")
        time.sleep(step)
    return time.monotonic() - started
