"""Prometheus metrics of the service, kept in an injected ``CollectorRegistry``.

Names follow Prometheus conventions: ``odeserve_`` prefix, base units (seconds), ``_total`` on
counters. Labels hold only bounded values: model names and versions of the store (never raw
request text), the route template as ``endpoint``, the HTTP status, the solver method.
:class:`~service.http.request_metrics.MetricsMiddleware` measures every request; routes name the
version that answered with :func:`~service.telemetry.labels.label_served`; the engine's caller
reports each solve with :meth:`Metrics.observe_solve`.

With several uvicorn workers (:mod:`service.telemetry.multiprocess`), ``/metrics`` in any worker
answers for all of them (:meth:`Metrics.render`). Gauges use ``live*`` modes: a worker withdraws
its own at shutdown (:meth:`Metrics.close`), and :meth:`Metrics.render` those of any worker whose
process no longer exists (killed, crashed).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from typing import NamedTuple

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from .bulk import observe_many
from .multiprocess import (
    WorkerFilesCollector,
    drop_dead_workers,
    mark_worker_dead,
    multiproc_dir_of_this_process,
)

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
QUEUE_WAIT_BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
)
NFE_BUCKETS = tuple(float(2**k) for k in range(1, 17))  # 2 .. 65536
BATCH_SIZE_BUCKETS = tuple(float(2**k) for k in range(0, 13))  # 1 .. 4096

_MODEL = ("model", "version")
_SOLVE = (*_MODEL, "method")


class ServedVersion(NamedTuple):
    """One model version the registry serves, as the metrics see it."""

    model: str
    version: str
    family: str
    method: str
    golden_nfe: float
    """Mean per-sample NFE of the version's golden inputs at its default solver."""


class _SolveSeries(NamedTuple):
    nfe: Histogram
    accepted: Counter
    rejected: Counter
    batch_size: Histogram
    queue_wait: Histogram


class Metrics:
    """Every metric of the service, registered in ``registry`` (one per app, never the global one)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self._multiproc_dir = multiproc_dir_of_this_process()
        self._loaded: set[ServedVersion] = set()
        self._solve_cache: dict[tuple[str, str, str], _SolveSeries] = {}
        self._request_cache: dict[tuple[str, str, str, int], tuple[Counter, Histogram]] = {}
        self.requests = Counter(
            "odeserve_requests",
            "HTTP requests answered.",
            (*_MODEL, "endpoint", "status"),
            registry=registry,
        )
        self.request_duration = Histogram(
            "odeserve_request_duration_seconds",
            "Time from request received to response sent.",
            (*_MODEL, "endpoint"),
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.sample_nfe = Histogram(
            "odeserve_sample_nfe",
            "Function evaluations the ODE solver spent on one sample.",
            _SOLVE,
            buckets=NFE_BUCKETS,
            registry=registry,
        )
        self.solver_steps = Counter(
            "odeserve_solver_steps",
            "Solver steps taken, by outcome (accepted or rejected); "
            "methods run through torchdiffeq do not report theirs.",
            (*_SOLVE, "outcome"),
            registry=registry,
        )
        self.batch_size = Histogram(
            "odeserve_batch_size",
            "Samples solved together in one batch.",
            _SOLVE,
            buckets=BATCH_SIZE_BUCKETS,
            registry=registry,
        )
        self.queue_wait = Histogram(
            "odeserve_queue_wait_seconds",
            "Time a request waited before its batch started solving.",
            _SOLVE,
            buckets=QUEUE_WAIT_BUCKETS,
            registry=registry,
        )
        self.in_flight = Gauge(
            "odeserve_in_flight_requests",
            "Requests being handled right now (all workers).",
            registry=registry,
            multiprocess_mode="livesum",
        )
        # livemax: every worker loads the same versions, so the max over live workers is the value
        # of any one of them, with a single series and no pid label.
        self.version_info = Gauge(
            "odeserve_model_version_info",
            "1 for each model version being served (0 once unloaded).",
            (*_MODEL, "family", "method"),
            registry=registry,
            multiprocess_mode="livemax",
        )
        self.load_failures = Counter(
            "odeserve_model_load_failures",
            "Model versions that failed to load (once per worker).",
            _MODEL,
            registry=registry,
        )
        self.store_errors = Counter(
            "odeserve_store_errors",
            "Refreshes that could not read the store (or a model in it); what was loaded keeps serving.",
            registry=registry,
        )
        self.golden_nfe_baseline = Gauge(
            "odeserve_golden_nfe_baseline",
            "Mean per-sample NFE of a version's golden inputs at its default solver.",
            _SOLVE,
            registry=registry,
            multiprocess_mode="livemax",
        )

    def observe_request(self, model: str, version: str, endpoint: str, status: int, seconds: float) -> None:
        """Count one answered request; ``model``/``version`` are "" where none was resolved."""
        key = (model, version, endpoint, status)
        children = self._request_cache.get(key)
        if children is None:  # label lookups cost more than the observation itself (hot path)
            children = self._request_cache[key] = (
                self.requests.labels(model, version, endpoint, str(status)),
                self.request_duration.labels(model, version, endpoint),
            )
        children[0].inc()
        children[1].observe(seconds)

    def observe_solve(
        self,
        model: str,
        version: str,
        method: str,
        nfe: Sequence[int],
        accepted: Sequence[int] | None,
        rejected: Sequence[int] | None,
        queue_waits: Sequence[float],
        batch_size: int | None = None,
        traffic: bool = True,
    ) -> None:
        """Record solved samples: per-sample NFE and steps, each request's queue wait, and the size
        of the batch they were solved in (``len(nfe)`` unless the dynamic batcher says otherwise).
        Steps given as None (unknown: torchdiffeq does not report them) are not counted, rather
        than counted as zero. ``traffic=False`` (the explorer's grids: a sweep over a box, not the
        inputs the model serves) keeps the samples out of the per-sample NFE histogram, which the
        NFE-drift alert reads against the golden baseline.
        """
        known = [s for s in (accepted, rejected) if s is not None]
        if len(known) == 1 or any(len(s) != len(nfe) for s in known):
            raise ValueError("nfe, accepted and rejected need one entry per sample")
        series = self._solve_series(model, version, method)
        if traffic:
            observe_many(series.nfe, nfe)
        if accepted is not None and rejected is not None:
            series.accepted.inc(sum(accepted))
            series.rejected.inc(sum(rejected))
        series.batch_size.observe(len(nfe) if batch_size is None else batch_size)
        observe_many(series.queue_wait, queue_waits)

    def _solve_series(self, model: str, version: str, method: str) -> _SolveSeries:
        """The labelled children of one (model, version, method), looked up once (hot path)."""
        key = (model, version, method)
        series = self._solve_cache.get(key)
        if series is None:
            series = self._solve_cache[key] = _SolveSeries(
                self.sample_nfe.labels(*key),
                self.solver_steps.labels(*key, "accepted"),
                self.solver_steps.labels(*key, "rejected"),
                self.batch_size.labels(*key),
                self.queue_wait.labels(*key),
            )
        return series

    def track_in_flight(self) -> AbstractContextManager[None]:
        """Context manager counting the request it wraps as in flight."""
        return self.in_flight.track_inprogress()

    def set_loaded_versions(self, loaded: Iterable[ServedVersion]) -> None:
        """Publish the versions now served; versions served before but not now are withdrawn."""
        loaded = set(loaded)
        for gone in self._loaded - loaded:
            self._withdraw(gone)
        for item in loaded:
            self._publish(item)
        self._loaded = loaded

    def count_load_failure(self, model: str, version: str) -> None:
        """Count a version that could not be loaded (integrity, golden mismatch, bad manifest)."""
        self.load_failures.labels(model, version).inc()

    def count_store_error(self) -> None:
        """Count a refresh that could not read the store or one of its models."""
        self.store_errors.inc()

    def render(self) -> tuple[bytes, str]:
        """The body and content type of ``GET /metrics``: this process, or all workers."""
        if self._multiproc_dir is None:
            return generate_latest(self.registry), CONTENT_TYPE_LATEST
        drop_dead_workers(self._multiproc_dir)
        registry = CollectorRegistry()
        registry.register(WorkerFilesCollector(self._multiproc_dir))
        return generate_latest(registry), CONTENT_TYPE_LATEST

    def close(self) -> None:
        """At worker shutdown: withdraw this process's live gauges from the multiprocess folder."""
        if self._multiproc_dir is not None:
            mark_worker_dead(os.getpid(), self._multiproc_dir)

    def _publish(self, item: ServedVersion) -> None:
        self.version_info.labels(item.model, item.version, item.family, item.method).set(1)
        self.golden_nfe_baseline.labels(item.model, item.version, item.method).set(item.golden_nfe)
        # Create the default method's series at zero, so the first requests count in rate().
        solve = (item.model, item.version, item.method)
        for histogram in (self.sample_nfe, self.batch_size, self.queue_wait):
            histogram.labels(*solve)
        for outcome in ("accepted", "rejected"):
            self.solver_steps.labels(*solve, outcome)

    def _withdraw(self, item: ServedVersion) -> None:
        info = (item.model, item.version, item.family, item.method)
        if self._multiproc_dir is None:
            self.version_info.remove(*info)
            self.golden_nfe_baseline.remove(item.model, item.version, item.method)
        else:  # mmap files cannot forget a series; 0 marks it unloaded (alerts join on == 1)
            self.version_info.labels(*info).set(0)
