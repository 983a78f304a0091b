#!/usr/bin/env python3
"""Open N keep-alive connections to a proxy and hold them open, for an RSS reading.

Usage: idle_conns.py HOST PORT N HOLD_SECONDS [--request TOKEN]

Without --request the connections are only opened (accepted, idle before their first
request). With --request each connection sends one `GET /v1/charges` with `Authorization: Bearer
TOKEN`, reads the whole response, and then stays open and idle (keep-alive), at most
BATCH requests in flight at a time. Prints "READY opened=N ok=M" once all are done, holds
for HOLD_SECONDS (the caller reads the RSS meanwhile, then may end it early), then closes
everything.
Bounded: every step has a timeout, and the script always exits.
"""

import asyncio
import sys

BATCH = 50
STEP_TIMEOUT = 20.0


async def one(host, port, token, sem, conns):
    async with sem:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), STEP_TIMEOUT)
        conns.append(writer)
        if token is None:
            return True
        writer.write(
            (
                f"GET /v1/charges HTTP/1.1\r\nHost: {host}:{port}\r\n"
                f"Authorization: Bearer {token}\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), STEP_TIMEOUT)
        status_ok = head.split(b" ", 2)[1].startswith(b"2")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        if length:
            await asyncio.wait_for(reader.readexactly(length), STEP_TIMEOUT)
        return status_ok


async def main():
    host, port, n, hold = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    token = None
    if len(sys.argv) > 6 and sys.argv[5] == "--request":
        token = sys.argv[6]
    sem = asyncio.Semaphore(BATCH)
    conns = []
    results = await asyncio.gather(
        *(one(host, port, token, sem, conns) for _ in range(n)), return_exceptions=True
    )
    ok = sum(1 for r in results if r is True)
    errors = [r for r in results if isinstance(r, BaseException)]
    print(f"READY opened={len(conns)} ok={ok} errors={len(errors)}", flush=True)
    if errors:
        print(f"first error: {errors[0]!r}", file=sys.stderr, flush=True)
    await asyncio.sleep(hold)
    for w in conns:
        w.close()
    print("DONE", flush=True)


asyncio.run(main())
