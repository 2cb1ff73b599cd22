"""Load generator for ``deskguard bench intake``: signed Zendesk webhook deliveries over keep-alive
HTTP/1.1 connections, run as its own process (``python -m connector.devkit.bench.intake_load``) so
the client does not share the server's interpreter.

Two modes:

- ``closed``: N connections, each sends its next delivery as soon as the previous one is
  answered (maximum sustained throughput).
- ``open``: deliveries are *scheduled* at a fixed rate whatever the answers do, and each latency
  is measured from its scheduled time, so a slow server cannot hide its queueing delay
  (no coordinated omission).

Every delivery is a distinct ticket change (its own ticket id), freshly signed. Prints one JSON
object: counts per status, the accepted ticket ids, throughput, latency percentiles.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import sys
import time


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


class Connection:
    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, raw: bytes) -> int:
        for attempt in range(2):  # gunicorn may close an idle keep-alive connection: reconnect once
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            assert self.reader is not None  # set and cleared with the writer
            try:
                self.writer.write(raw)
                await self.writer.drain()
                head = await self.reader.readuntil(b"\r\n\r\n")
                status = int(head.split(b" ", 2)[1])
                length = 0
                close = False
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value.strip())
                    elif (
                        name.strip().lower() == b"connection" and value.strip().lower() == b"close"
                    ):
                        close = True
                if length:
                    await self.reader.readexactly(length)
                if close:
                    self.close()
                return status
            except (ConnectionError, asyncio.IncompleteReadError):
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def build_request(host: str, port: int, tenant: str, secret: str, ticket_id: int) -> bytes:
    now = time.gmtime()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", now)
    body = json.dumps({"ticket_id": str(ticket_id), "updated_at": stamp, "status": "new"}).encode()
    signature = base64.b64encode(
        hmac.new(secret.encode(), stamp.encode() + body, hashlib.sha256).digest()
    ).decode()
    head = (
        f"POST /webhooks/zendesk/{tenant} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "User-Agent: Zendesk Webhook\r\n"
        f"X-Zendesk-Webhook-Signature: {signature}\r\n"
        f"X-Zendesk-Webhook-Signature-Timestamp: {stamp}\r\n\r\n"
    )
    return head.encode() + body


async def run_closed(args) -> dict:
    statuses: dict[int, int] = {}
    accepted: list[int] = []
    latencies: list[float] = []
    next_id = [args.start_id]
    deadline = time.perf_counter() + args.seconds

    async def worker():
        conn = Connection(args.host, args.port)
        while time.perf_counter() < deadline:
            tid = next_id[0]
            next_id[0] += 1
            raw = build_request(args.host, args.port, args.tenant, args.secret, tid)
            started = time.perf_counter()
            status = await conn.request(raw)
            latencies.append(time.perf_counter() - started)
            statuses[status] = statuses.get(status, 0) + 1
            if status == 202:
                accepted.append(tid)
        conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(args.connections)))
    elapsed = time.perf_counter() - started
    return _report("closed", statuses, accepted, latencies, elapsed)


async def run_open(args) -> dict:
    statuses: dict[int, int] = {}
    accepted: list[int] = []
    latencies: list[float] = []
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(args.connections):
        idle.put_nowait(Connection(args.host, args.port))
    total = int(args.rate * args.seconds)
    start = time.perf_counter() + 0.05

    async def one(i: int) -> None:
        scheduled = start + i / args.rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        conn = await idle.get()
        tid = args.start_id + i
        try:
            status = await conn.request(
                build_request(args.host, args.port, args.tenant, args.secret, tid)
            )
        finally:
            idle.put_nowait(conn)
        latencies.append(time.perf_counter() - scheduled)
        statuses[status] = statuses.get(status, 0) + 1
        if status == 202:
            accepted.append(tid)

    await asyncio.gather(*(one(i) for i in range(total)))
    elapsed = time.perf_counter() - start
    return _report("open", statuses, accepted, latencies, elapsed, target_rate=args.rate)


def _report(mode, statuses, accepted, latencies, elapsed, **extra) -> dict:
    return {
        "mode": mode,
        **extra,
        "sent": sum(statuses.values()),
        "statuses": statuses,
        "accepted_ids": accepted,
        "seconds": round(elapsed, 3),
        "throughput_per_s": round(sum(statuses.values()) / elapsed, 1),
        "latency_ms": {
            "p50": round(_percentile(latencies, 50) * 1000, 2),
            "p90": round(_percentile(latencies, 90) * 1000, 2),
            "p99": round(_percentile(latencies, 99) * 1000, 2),
            "max": round(max(latencies, default=0) * 1000, 2),
        },
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tenant", required=True)
    parser.add_argument(
        "--secret",
        default=os.environ.get("DESKGUARD_BENCH_WEBHOOK_SECRET", ""),
        help="Signing secret (default: $DESKGUARD_BENCH_WEBHOOK_SECRET).",
    )
    parser.add_argument("--mode", choices=("closed", "open"), default="closed")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--start-id", type=int, default=1)
    args = parser.parse_args(argv)
    if not args.secret:
        parser.error("no signing secret: pass --secret or set DESKGUARD_BENCH_WEBHOOK_SECRET")
    result = asyncio.run(run_closed(args) if args.mode == "closed" else run_open(args))
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
