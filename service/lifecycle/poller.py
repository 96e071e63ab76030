"""Background polling of the store: new versions and alias moves are served without a restart."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import anyio

from service.errors import StoreUnavailable
from service.lifecycle.registry import Registry

log = logging.getLogger(__name__)


class StorePoller:
    """Refreshes the registry every ``interval_s`` seconds in a worker thread (0 disables polling)."""

    def __init__(self, registry: Registry, interval_s: float) -> None:
        self.registry = registry
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.interval_s > 0 and self._task is None:
            self._task = asyncio.create_task(self._run(), name="odeserve-store-poller")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await anyio.sleep(self.interval_s)
            try:
                changes = await anyio.to_thread.run_sync(self.registry.refresh)
            except StoreUnavailable:  # logged and counted by the registry; the next poll tries again
                continue
            except Exception:  # noqa: BLE001 -- a poll that fails (store unreadable) must not stop polling
                log.exception("store poll failed; serving the previous state")
                continue
            if changes.loaded or changes.failed or changes.removed or changes.aliases_changed:
                log.info(
                    "store changed: loaded %s, failed %s, removed %s, aliases moved for %s",
                    changes.loaded,
                    [f.key for f in changes.failed],
                    changes.removed,
                    changes.aliases_changed,
                )
