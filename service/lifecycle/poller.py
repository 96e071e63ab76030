"""Background polling of the store: new versions and alias moves are served without a restart.

With several workers the poller also watches the replica's reload generation
(:mod:`.reload_signal`), polling on or off, so an admin reload answered by one worker reaches all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import anyio

from service.errors import StoreUnavailable
from service.lifecycle.registry import Changes, Registry
from service.lifecycle.reload_signal import WATCH_INTERVAL_S, ReloadSignal

log = logging.getLogger(__name__)


class StorePoller:
    """Refreshes the registry every ``interval_s`` seconds in a worker thread (0 disables polling);
    with a ``signal``, also runs a full refresh whenever another worker's admin reload bumps it."""

    def __init__(
        self,
        registry: Registry,
        interval_s: float,
        signal: ReloadSignal | None = None,
        watch_interval_s: float = WATCH_INTERVAL_S,
    ) -> None:
        self.registry = registry
        self.interval_s = interval_s
        self.signal = signal
        self.watch_interval_s = watch_interval_s
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        if self._tasks:
            return
        if self.interval_s > 0:
            self._tasks.append(asyncio.create_task(self._run(), name="odeserve-store-poller"))
        if self.signal is not None:
            self._tasks.append(asyncio.create_task(self._watch(self.signal), name="odeserve-reload-watch"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _run(self) -> None:
        while True:
            await anyio.sleep(self.interval_s)
            await self._refresh(full=False)

    async def _watch(self, signal: ReloadSignal) -> None:
        while True:
            await anyio.sleep(self.watch_interval_s)
            try:
                generation = signal.pending()
            except OSError as exc:  # the folder is a tmp folder of the launcher: should not happen
                log.warning("cannot read the reload generation: %s", exc)
                continue
            if generation is None:
                continue
            log.info("admin reload %d from another worker: re-reading the store", generation)
            try:
                await self._refresh(full=True)
            finally:  # applied, or tried and logged: either way not waited for again
                signal.acknowledge(generation)

    async def _refresh(self, *, full: bool) -> None:
        try:
            changes = await anyio.to_thread.run_sync(lambda: self.registry.refresh(full=full))
        except StoreUnavailable:  # logged and counted by the registry; the next poll tries again
            return
        except Exception:  # noqa: BLE001 -- a poll that fails (store unreadable) must not stop polling
            log.exception("store poll failed; serving the previous state")
            return
        _log_changes(changes)


def _log_changes(changes: Changes) -> None:
    if changes.loaded or changes.failed or changes.removed or changes.aliases_changed:
        log.info(
            "store changed: loaded %s, failed %s, removed %s, aliases moved for %s",
            changes.loaded,
            [f.key for f in changes.failed],
            changes.removed,
            changes.aliases_changed,
        )
