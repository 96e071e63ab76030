"""A small asyncio HTTP/1.1 load generator: N keep-alive connections POSTing one body for a while.

Unlike wrk it keeps every answer's status and latency, so a run can say how fast 503s came back,
and it names every failure (timeout, reset, refused) instead of counting socket errors.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Outcome:
    status: int | None  # None: no answer (see error)
    latency_s: float
    error: str | None = None


@dataclass
class LoadResult:
    duration_s: float
    outcomes: list[Outcome] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        answered = [o for o in self.outcomes if o.status is not None]
        by_status: dict[str, Any] = {}
        for status in sorted({o.status for o in answered}):
            by_status[str(status)] = _latency([o.latency_s for o in answered if o.status == status])
        return {
            "requests": len(self.outcomes),
            "duration_s": round(self.duration_s, 2),
            "rps": round(len(answered) / self.duration_s, 1) if self.duration_s else 0.0,
            "errors": dict(Counter(o.error for o in self.outcomes if o.error)),
            "latency_ms": _latency([o.latency_s for o in answered]),
            "by_status": by_status,
        }


def _latency(seconds: list[float]) -> dict[str, float]:
    if not seconds:
        return {}
    ordered = sorted(seconds)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000  # noqa: E731
    return {
        "count": len(ordered),
        "p50": round(pick(0.50), 2),
        "p90": round(pick(0.90), 2),
        "p99": round(pick(0.99), 2),
        "max": round(ordered[-1] * 1000, 2),
        "mean": round(statistics.fmean(ordered) * 1000, 2),
    }


def request_bytes(path: str, body: bytes, headers: dict[str, str] | None = None) -> bytes:
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n{extra}\r\n"
    ).encode() + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {
        k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)
    }
    await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers.get("connection", "").lower() != "close"


async def _connection(
    host: str, port: int, payload: bytes, stop_at: float, timeout_s: float, out: list[Outcome]
) -> None:
    writer: asyncio.StreamWriter | None = None
    reader: asyncio.StreamReader | None = None
    while time.monotonic() < stop_at:
        started = time.perf_counter()
        try:
            if writer is None:
                reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
            assert reader is not None
            writer.write(payload)
            status, keep = await asyncio.wait_for(_read_response(reader), timeout_s)
            out.append(Outcome(status, time.perf_counter() - started))
            if not keep:
                writer.close()
                writer = None
        except TimeoutError:
            out.append(Outcome(None, time.perf_counter() - started, "timeout"))
            writer = _close(writer)
        except (ConnectionError, asyncio.IncompleteReadError, OSError) as exc:
            out.append(Outcome(None, time.perf_counter() - started, type(exc).__name__))
            writer = _close(writer)
            await asyncio.sleep(0.05)
    _close(writer)


def _close(writer: asyncio.StreamWriter | None) -> None:
    if writer is not None:
        writer.close()
    return None


async def _run(
    host: str, port: int, payload: bytes, connections: int, duration_s: float, timeout_s: float
) -> LoadResult:
    outcomes: list[Outcome] = []
    started = time.monotonic()
    stop_at = started + duration_s
    await asyncio.gather(
        *(_connection(host, port, payload, stop_at, timeout_s, outcomes) for _ in range(connections))
    )
    return LoadResult(time.monotonic() - started, outcomes)


def run_load(
    host: str, port: int, payload: bytes, *, connections: int, duration_s: float, timeout_s: float = 30.0
) -> LoadResult:
    """``connections`` keep-alive connections sending ``payload`` back to back for ``duration_s``."""
    return asyncio.run(_run(host, port, payload, connections, duration_s, timeout_s))


def rss_bytes(pid: int) -> int:
    """Resident memory of a process (Linux /proc)."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")
