#!/usr/bin/env python3
"""Userspace stand-in for `tc netem delay ... rate ...`: a TCP relay on 127.0.0.1 that holds
every chunk for half the round trip in each direction, the first bytes of a connection for one
extra round trip (the TCP handshake a real network would cost), and, when given a bandwidth,
sends each direction through one shared bottleneck link of that rate.

The link is shared by all connections through the relay, as one uplink is shared by all the
uploads of a host: a chunk leaves when the link has finished sending everything queued before
it (first in, first out), takes size/rate seconds to leave, and arrives half an RTT later.
At most `QUEUE_LIMIT` bytes wait per connection and direction; beyond that the relay stops
reading, so a sender is held back as TCP's flow control would hold it. TCP's congestion window
(slow start) is not modelled: figures taken through the relay are a lower bound of what a real
link with that RTT and bandwidth costs.

Used only when the kernel has no netem qdisc.

Usage: delay_relay.py LISTEN_PORT TARGET_HOST TARGET_PORT RTT_MS [MBIT_PER_S]
(prints "ready PORT" once listening; MBIT_PER_S 0 or absent: no bandwidth limit)
"""
import asyncio
import sys
import time

QUEUE_LIMIT = 4 << 20


class Link:
    """One direction of the bottleneck: when it is free again, and how fast it sends."""

    def __init__(self, bytes_per_second):
        self.bytes_per_second = bytes_per_second
        self.free_at = 0.0

    def departure(self, size, now):
        """When a chunk of `size` bytes read at `now` has left the link."""
        if not self.bytes_per_second:
            return now
        start = max(now, self.free_at)
        self.free_at = start + size / self.bytes_per_second
        return self.free_at


async def pump(reader, writer, one_way, not_before, link, chunk):
    """Copies reader to writer, delivering each chunk after the link sent it plus `one_way`."""
    queue = asyncio.Queue()
    queued = {"bytes": 0}
    room = asyncio.Event()
    room.set()

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
            queued["bytes"] -= len(data)
            if queued["bytes"] < QUEUE_LIMIT:
                room.set()
        try:
            if writer.can_write_eof():
                writer.write_eof()
        except OSError:
            pass

    deliverer = asyncio.ensure_future(deliver())
    try:
        while True:
            await room.wait()
            data = await reader.read(chunk)
            now = time.monotonic()
            if not data:
                await queue.put((max(now + one_way, not_before), None))
                break
            due = max(link.departure(len(data), now) + one_way, not_before)
            queued["bytes"] += len(data)
            if queued["bytes"] >= QUEUE_LIMIT:
                room.clear()
            await queue.put((due, data))
        await deliverer
    except (ConnectionError, OSError):
        deliverer.cancel()


async def handle(client_reader, client_writer, host, port, rtt, uplink, downlink, chunk):
    accepted = time.monotonic()
    try:
        server_reader, server_writer = await asyncio.open_connection(host, port)
    except OSError:
        client_writer.close()
        return
    one_way = rtt / 2
    await asyncio.gather(
        pump(client_reader, server_writer, one_way, accepted + rtt + one_way, uplink, chunk),
        pump(server_reader, client_writer, one_way, 0.0, downlink, chunk),
        return_exceptions=True,
    )
    for writer in (client_writer, server_writer):
        try:
            writer.close()
        except OSError:
            pass


async def main():
    listen_port, host, port, rtt_ms = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    mbit = float(sys.argv[5]) if len(sys.argv) > 5 else 0.0
    bytes_per_second = mbit * 1_000_000 / 8
    uplink, downlink = Link(bytes_per_second), Link(bytes_per_second)
    # Smaller chunks when the link is limited, so that its rate is applied smoothly.
    chunk = (64 << 10) if mbit else (1 << 20)
    server = await asyncio.start_server(
        lambda r, w: handle(r, w, host, port, rtt_ms / 1000.0, uplink, downlink, chunk), "127.0.0.1", listen_port,
        limit=chunk * 4)
    print(f"ready {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
