"""A loopback TCP relay that adds latency (issue 15, target 6): `sync_bench.py --latency-ms`.

Run: python bench/latency_relay.py --target HOST:PORT --delay-ms 15
Prints `{"port": N}` on one line once it listens on 127.0.0.1:N, then relays until killed.

Every chunk read on one side is written to the other `--delay-ms` later, in both
directions, so a request and its answer cost twice that (15 ms each way = 30 ms per round
trip), while bytes keep streaming at the wire's speed: a chunk is not held back by the
ones before it beyond their own due time (the queue is a pipe, not a stop-and-wait link).
The relay only moves bytes: TLS goes through untouched, end to end between the client and
Dovecot; the client still connects to the certificate's host (127.0.0.1), on our port.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

CHUNK = 256 * 1024
QUEUED_CHUNKS = 256  # back-pressure: at most ~64 MB in flight per direction


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    """Copy reader -> writer, each chunk delivered `delay` seconds after it arrived."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(QUEUED_CHUNKS)

    async def deliver() -> None:
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:  # end of stream, after the data before it
                if writer.can_write_eof():
                    writer.write_eof()
                return
            writer.write(data)
            await writer.drain()

    delivery = asyncio.create_task(deliver())
    try:
        while True:
            data = await reader.read(CHUNK)
            await queue.put((loop.time() + delay, data))
            if not data:
                break
        await delivery
    except (ConnectionError, OSError):
        delivery.cancel()
    finally:
        writer.close()


async def serve(target_host: str, target_port: int, delay: float) -> None:
    """Listen on an ephemeral loopback port; relay each connection to the target."""

    async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter):  # type: ignore[no-untyped-def]
        try:
            server_reader, server_writer = await asyncio.open_connection(target_host, target_port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(
            pipe(client_reader, server_writer, delay),
            pipe(server_reader, client_writer, delay),
            return_exceptions=True,
        )

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print(json.dumps({"port": port}), flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", required=True, help="HOST:PORT to relay to")
    parser.add_argument("--delay-ms", type=float, required=True, help="added each way")
    args = parser.parse_args()
    host, _, port = args.target.rpartition(":")
    try:
        asyncio.run(serve(host, int(port), args.delay_ms / 1000))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
