"""The registry: every stored version the service knows, loaded or failed.

The state is an immutable :class:`Snapshot`; :meth:`Registry.refresh` builds a new one beside it
and swaps a single reference, so a request that resolved a version keeps that object until it
finishes, whatever reloads happen meanwhile. Refreshes are serialised by a lock (the poller and
the admin endpoint may ask at once) and run off the event loop. A store that cannot be read (its
folder gone, unreadable, or a model in it) is an error to log and count, not a removal: what was
loaded keeps serving until the store can be read again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from models_store import LATEST, ModelStore, StoreError, parse_version_ref, validate_name
from service.engine import BackendName
from service.errors import (
    AliasNotFound,
    ModelNotFound,
    StoreUnavailable,
    VersionNotFound,
    VersionUnavailable,
)
from service.lifecycle.loading import FailedVersion, LoadedVersion, VersionState, refresh_version
from service.telemetry.metrics import Metrics, ServedVersion

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelState:
    name: str
    versions: Mapping[int, VersionState]
    aliases: Mapping[str, int]

    @property
    def latest(self) -> VersionState | None:
        return self.versions.get(self.aliases.get(LATEST, -1))

    def aliases_of(self, version: int) -> list[str]:
        return sorted(alias for alias, v in self.aliases.items() if v == version)

    def lookup(self, ref: str | None) -> VersionState:
        """The version a number or alias (None: ``latest``) names, loaded or not."""
        parsed = parse_version_ref(ref)
        if isinstance(parsed, str):
            if parsed not in self.aliases:
                known = ", ".join(sorted(self.aliases)) or "none"
                raise AliasNotFound(f"model {self.name!r} has no alias {parsed!r}; its aliases: {known}")
            parsed = self.aliases[parsed]
        state = self.versions.get(parsed)
        if state is None:
            known = ", ".join(map(str, sorted(self.versions))) or "none"
            raise VersionNotFound(f"model {self.name!r} has no version {parsed}; its versions: {known}")
        return state


@dataclass(frozen=True)
class Snapshot:
    models: Mapping[str, ModelState] = field(default_factory=lambda: MappingProxyType({}))

    def model(self, name: str) -> ModelState:
        validate_name(name)
        state = self.models.get(name)
        if state is None:
            known = ", ".join(sorted(self.models)) or "none"
            raise ModelNotFound(f"model {name!r} not found; known models: {known}")
        return state

    def states(self) -> dict[str, VersionState]:
        return {s.key: s for m in self.models.values() for s in m.versions.values()}

    def count(self, status: str) -> int:
        return sum(s.status == status for s in self.states().values())


@dataclass(frozen=True)
class Changes:
    """What one refresh changed."""

    loaded: list[str]
    failed: list[FailedVersion]
    removed: list[str]
    aliases_changed: list[str]
    loaded_versions: int
    failed_versions: int
    duration_s: float


class Registry:
    """Loaded versions of every model in one store."""

    def __init__(
        self, store: ModelStore, metrics: Metrics | None = None, backend: BackendName = "auto"
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.backend: BackendName = backend
        self._snapshot = Snapshot()
        self._lock = threading.Lock()

    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    def resolve(self, name: str, ref: str | None = None) -> LoadedVersion:
        """The loaded version to serve; raises a 404 error, or 503 when that version failed to load."""
        state = self._snapshot.model(name).lookup(ref)
        if isinstance(state, FailedVersion):
            raise VersionUnavailable(f"{state.key} is not served: {state.reason}", {"reason": state.reason})
        return state

    def refresh(self, *, full: bool = False) -> Changes:
        """Pick up new, changed and removed versions and moved aliases; ``full`` re-hashes every file.

        Raises StoreUnavailable (and keeps the current state) when the store cannot be listed.
        """
        started = time.perf_counter()
        with self._lock:
            old = self._snapshot
            models = {}
            for name in self._list_models():
                state = self._refresh_model(name, old.models.get(name), full)
                if state is not None:
                    models[name] = state
            self._snapshot = new = Snapshot(MappingProxyType(models))
            changes = _changes(old, new, time.perf_counter() - started)
            self._publish_metrics(new, changes)
        return changes

    def _list_models(self) -> list[str]:
        try:
            if not self.store.root.is_dir():
                raise NotADirectoryError("the store folder is missing or not a folder")
            return self.store.list_models()
        except OSError as exc:
            reason = exc.strerror if exc.filename else str(exc)  # no server paths in a public answer
            self._store_error(f"cannot read the model store: {reason}")
            raise StoreUnavailable(
                f"the model store cannot be read ({reason}); the versions already loaded keep serving"
            ) from None

    def _store_error(self, message: str) -> None:
        log.warning("%s; serving what was loaded before", message)
        if self.metrics is not None:
            self.metrics.count_store_error()

    def _publish_metrics(self, snapshot: Snapshot, changes: Changes) -> None:
        """One place for every refresh (startup, poller, admin): what is served, what failed."""
        if self.metrics is None:
            return
        self.metrics.set_loaded_versions(
            ServedVersion(
                s.name, str(s.version), s.manifest.family, s.baseline.solver.method, s.baseline.nfe_mean
            )
            for s in snapshot.states().values()
            if isinstance(s, LoadedVersion)
        )
        for failed in changes.failed:
            self.metrics.count_load_failure(failed.name, str(failed.version))

    def _refresh_model(self, name: str, previous: ModelState | None, full: bool) -> ModelState | None:
        old = previous.versions if previous else {}
        try:
            versions = self.store.versions(name)
            states = {
                v: refresh_version(self.store, name, v, old.get(v), full=full, backend=self.backend)
                for v in versions
            }
            aliases = self.store.aliases(name)
        except (StoreError, OSError) as exc:  # changed under our feet (e.g. removed): keep what we had
            self._store_error(f"cannot refresh model {name}: {exc}")
            return previous
        if not states:
            return None
        return ModelState(name, MappingProxyType(states), MappingProxyType(aliases))


def _changes(old: Snapshot, new: Snapshot, duration_s: float) -> Changes:
    before, after = old.states(), new.states()
    fresh = [s for k, s in after.items() if not _same(before.get(k), s)]
    return Changes(
        loaded=sorted(s.key for s in fresh if isinstance(s, LoadedVersion)),
        failed=sorted((s for s in fresh if isinstance(s, FailedVersion)), key=lambda s: s.key),
        removed=sorted(set(before) - set(after)),
        aliases_changed=sorted(
            n for n, m in new.models.items() if n not in old.models or old.models[n].aliases != m.aliases
        ),
        loaded_versions=new.count("loaded"),
        failed_versions=new.count("failed"),
        duration_s=round(duration_s, 4),
    )


def _same(a: VersionState | None, b: VersionState) -> bool:
    """True when a refresh kept a version as it was (only its file metadata may have moved)."""
    if isinstance(a, LoadedVersion) and isinstance(b, LoadedVersion):
        return a.runner is b.runner
    if isinstance(a, FailedVersion) and isinstance(b, FailedVersion):
        return a.reason == b.reason
    return False
