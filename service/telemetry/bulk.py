"""Many observations into one Prometheus histogram at once.

``Histogram.observe`` takes one value: a 1024-input predict records 1024 per-sample NFEs, and one
call each (a lock and two increments, ~4 us) cost the event loop about 4 ms, more than a third of
the request's time in the server. NFE values repeat (a batch has a few dozen distinct ones), so
the values are counted per bucket with numpy and each bucket is incremented once, by its count.

prometheus-client has no public call for that: this reads the histogram's bucket bounds and
increments its bucket and sum values, the same value objects ``observe`` increments (so the
multiprocess mode's files are written alike). Should a release of the library rename them, the
values are observed one by one instead, and ``tests/service/telemetry/test_bulk.py`` (exposition
identical to one-by-one observation) says so.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from prometheus_client import Histogram

ONE_BY_ONE = 8
"""Up to this many values are observed one by one: the counting costs ~7 us whatever the count,
one ``observe`` ~1.4 us (4 values: 5.3 us one by one; 16: 21 us against 8; 256: 324 against 18).
A one-point predict records one NFE and one queue wait, on its hot path."""


def observe_many(histogram: Histogram, values: Sequence[float] | np.ndarray) -> None:
    """``histogram.observe(v)`` for every ``v`` of ``values``, in a handful of calls."""
    bounds = getattr(histogram, "_upper_bounds", None) if len(values) > ONE_BY_ONE else None
    buckets, total = getattr(histogram, "_buckets", None), getattr(histogram, "_sum", None)
    if bounds is None or buckets is None or total is None or len(bounds) != len(buckets):
        for value in values:  # few values, or a prometheus-client release that moved what we read
            histogram.observe(value)
        return
    array = np.asarray(values, dtype=np.float64)
    # observe() puts v in the first bucket whose upper bound is >= v (the last is +Inf): searchsorted
    # with side="left" is that index; a NaN lands past the last bucket, counted in none, as observe()
    counts = np.bincount(np.searchsorted(np.asarray(bounds), array, side="left"), minlength=len(bounds) + 1)
    total.inc(float(array.sum()))
    for bucket, count in zip(buckets, counts[: len(bounds)].tolist(), strict=True):
        if count:
            bucket.inc(count)
