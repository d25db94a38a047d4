#!/usr/bin/env python3
"""Userspace stand-in for `tc netem delay`: a TCP relay on 127.0.0.1 that holds every chunk
for half the round trip in each direction, and the first bytes of a connection for one extra
round trip (the TCP handshake a real network would cost).

Used only when the kernel has no netem qdisc. It models propagation delay, not bandwidth nor
TCP's congestion window: a large body still flows at loopback speed once the first bytes
arrived, so figures taken through it are a lower bound of what a real link with that RTT costs.

Usage: delay_relay.py LISTEN_PORT TARGET_HOST TARGET_PORT RTT_MS   (prints "ready PORT" once listening)
"""
import asyncio
import sys
import time

CHUNK = 1 << 20


async def pump(reader, writer, one_way, not_before):
    """Copies reader to writer, delivering each chunk `one_way` seconds after it was read."""
    queue = asyncio.Queue()

    async def deliver():
        while True:
            due, data = await queue.get()
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if data is None:
                break
            writer.write(data)
            await writer.drain()
        try:
            if writer.can_write_eof():
                writer.write_eof()
        except OSError:
            pass

    deliverer = asyncio.ensure_future(deliver())
    try:
        while True:
            data = await reader.read(CHUNK)
            due = max(time.monotonic() + one_way, not_before)
            if not data:
                await queue.put((due, None))
                break
            await queue.put((due, data))
        await deliverer
    except (ConnectionError, OSError):
        deliverer.cancel()


async def handle(client_reader, client_writer, host, port, rtt):
    accepted = time.monotonic()
    try:
        server_reader, server_writer = await asyncio.open_connection(host, port)
    except OSError:
        client_writer.close()
        return
    one_way = rtt / 2
    await asyncio.gather(
        pump(client_reader, server_writer, one_way, accepted + rtt + one_way),
        pump(server_reader, client_writer, one_way, 0.0),
        return_exceptions=True,
    )
    for writer in (client_writer, server_writer):
        try:
            writer.close()
        except OSError:
            pass


async def main():
    listen_port, host, port, rtt_ms = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    server = await asyncio.start_server(
        lambda r, w: handle(r, w, host, port, rtt_ms / 1000.0), "127.0.0.1", listen_port, limit=CHUNK * 4
    )
    print(f"ready {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
