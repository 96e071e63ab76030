"""Many observations at once give the histogram exactly what one ``observe`` per value gives."""

from __future__ import annotations

import math

import pytest
from prometheus_client import CollectorRegistry, Histogram

from service.telemetry.bulk import ONE_BY_ONE, observe_many

NFE_BUCKETS = (8, 16, 32, 64, 128, 256, 512, 1024, math.inf)

CASES = {
    "nfe": ([34, 34, 40, 26, 34, 1000, 2000, 8, 9, 16, 17] * 30, NFE_BUCKETS),
    "on-bounds": ([0.005, 0.01, 0.0100001, 10.0, 10.5, 0.0, -1.0] * 3, Histogram.DEFAULT_BUCKETS),
    "waits": ([1e-6, 3e-4, 0.02, 0.3, 7.0] * 4, Histogram.DEFAULT_BUCKETS),
    "one": ([34], NFE_BUCKETS),  # few values: observed one by one
    "none": ([], NFE_BUCKETS),
}


def _histogram(buckets: tuple[float, ...]) -> tuple[CollectorRegistry, Histogram]:
    registry = CollectorRegistry()
    parent = Histogram("odeserve_test", "test", ["model"], buckets=buckets, registry=registry)
    return registry, parent.labels("m")


@pytest.mark.parametrize(("values", "buckets"), CASES.values(), ids=CASES.keys())
def test_the_exposition_equals_one_observation_per_value(
    values: list[float], buckets: tuple[float, ...]
) -> None:
    one_by_one, single = _histogram(buckets)
    for value in values:
        single.observe(value)
    at_once, bulk = _histogram(buckets)
    observe_many(bulk, values)
    want, got = _samples(one_by_one), _samples(at_once)
    assert got.keys() == want.keys()
    for key, value in want.items():  # the sum in another order: equal to round-off
        assert got[key] == pytest.approx(value, rel=1e-12, abs=0), key


def _samples(registry: CollectorRegistry) -> dict[tuple[str, str], float]:
    """Every bucket, the count and the sum (not the series' creation time)."""
    return {
        (s.name, s.labels.get("le", "")): s.value
        for metric in registry.collect()
        for s in metric.samples
        if not s.name.endswith("_created")
    }


def test_the_values_are_counted_per_bucket_not_observed_one_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fails should a prometheus-client release move what observe_many reads (it then falls back
    to one observe per value: right, but as slow as before)."""
    registry, histogram = _histogram(NFE_BUCKETS)

    def refuse(value: float) -> None:
        raise AssertionError("observed one by one")

    monkeypatch.setattr(histogram, "observe", refuse)
    observe_many(histogram, [34] * 1000)
    assert ONE_BY_ONE < 1000
    assert registry.get_sample_value("odeserve_test_count", {"model": "m"}) == 1000
    assert registry.get_sample_value("odeserve_test_bucket", {"model": "m", "le": "32.0"}) == 0
    assert registry.get_sample_value("odeserve_test_bucket", {"model": "m", "le": "64.0"}) == 1000
