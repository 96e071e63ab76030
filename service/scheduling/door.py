"""A door: at most ``capacity`` units of work inside at once; the rest wait in line, briefly.

Under a storm (far more connections than a worker can serve, from clients that retry at once and
ignore Retry-After), refusing at once whatever finds no room costs more than it saves: each
refusal is a request parsed, routed and answered, and the refused client sends the next one
straight away, so refusals grow until they take the CPU the accepted work needed. A line costs
nothing while it waits: work that finds no room waits (first come, first served, woken only when
it fits), and only work that has waited ``wait_s`` in vain is refused. A storm then costs its
clients time, not the worker CPU.

Two doors stand in a worker: one counts solve requests (before their bodies are read, see
:mod:`service.http.admission`), the batcher's counts the samples waiting to be solved.
"""

from __future__ import annotations

import asyncio
from collections import deque


class Door:
    """A first-come, first-served limit on the units inside, with a bounded wait to enter."""

    def __init__(self, capacity: int, wait_s: float) -> None:
        self.capacity, self.wait_s = capacity, wait_s
        self.inside = 0
        self._line: deque[tuple[int, asyncio.Future[bool]]] = deque()

    @property
    def waiting(self) -> int:
        """Entries in line (some may have given up and not been swept yet)."""
        return len(self._line)

    def try_enter(self, units: int = 1) -> bool:
        """Enter now if ``units`` fit and nobody is in line (the common case: no await)."""
        if self.inside + units <= self.capacity and not self._line:
            self.inside += units
            return True
        return False

    async def enter(self, units: int = 1) -> bool:
        """Enter now, or wait in line for up to ``wait_s``; True once inside, False if refused.

        Work larger than the whole capacity could never enter: it is refused at once.
        """
        if self.try_enter(units):
            return True
        if self.wait_s <= 0 or units > self.capacity:
            return False
        loop = asyncio.get_running_loop()
        turn: asyncio.Future[bool] = loop.create_future()
        self._line.append((units, turn))
        expiry = loop.call_later(self.wait_s, _expire, turn)
        try:
            return await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled() and turn.result():
                self.leave(units)  # let in just as the caller went away: pass the room on
            raise
        finally:
            expiry.cancel()

    def leave(self, units: int = 1) -> None:
        """Free ``units`` and let in, in order, those waiting that now fit."""
        self.inside -= units
        while self._line:
            size, turn = self._line[0]
            if turn.done():  # gave up (expired or cancelled)
                self._line.popleft()
            elif self.inside + size <= self.capacity:
                self._line.popleft()
                self.inside += size
                turn.set_result(True)
            else:
                return


def _expire(turn: asyncio.Future[bool]) -> None:
    if not turn.done():
        turn.set_result(False)
