"""A TCP service on 127.0.0.1 that is no mail server: it greets every connection with a
banner line (as SSH, databases and the like do) and then reads until the client leaves."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

SSH_BANNER = "SSH-2.0-OpenSSH_9.2 secret-banner"
SECRET = "secret-banner"  # the part of the banner that must be stored or shown nowhere


def serve(listener: socket.socket, banner: bytes, stop: threading.Event) -> None:
    """Greet each connection with the banner, then drain it, until told to stop."""
    listener.settimeout(0.2)
    while not stop.is_set():
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            continue
        with conn:
            conn.settimeout(5)
            try:
                conn.sendall(banner)
                while conn.recv(4096):
                    pass
            except OSError:
                pass


@contextmanager
def banner_server(banner: str = SSH_BANNER) -> Iterator[int]:
    """Run the service on a free port of 127.0.0.1; yield the port."""
    listener, stop = socket.create_server(("127.0.0.1", 0)), threading.Event()
    greeting = f"{banner}\r\n".encode()
    thread = threading.Thread(target=serve, args=(listener, greeting, stop), daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=10)
        listener.close()
