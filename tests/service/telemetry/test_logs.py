"""Structured logs: one JSON line per request with its request id, model, version, NFE and latency;
``X-Request-ID`` accepted when safe, replaced when not, generated when absent."""

from __future__ import annotations

import json
import logging
import re
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from service_process import ServiceProcess, service_process

from service.http.request_log import accept_request_id
from service.telemetry.logs import JsonFormatter, log_config

PREDICT = "/v1/models/moons-node/predict"
HEX_ID = re.compile(r"[0-9a-f]{32}")


@pytest.fixture(scope="module")
def server(store_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    folder = tmp_path_factory.mktemp("logging")
    shutil.copytree(store_template, folder / "store")
    with service_process(folder / "store", folder / "service.log") as running:
        yield running


def _access_record(server: ServiceProcess, request_id: str) -> dict:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = [r for r in server.access_records() if r["request_id"] == request_id]
        if found:
            assert len(found) == 1
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"no access log line for {request_id}")


def test_one_json_line_per_request_with_model_version_nfe_and_latency(server: ServiceProcess) -> None:
    r = server.client.post(
        PREDICT, json={"inputs": [[0.5, -0.25], [1.0, 0.3]]}, headers={"X-Request-ID": "client-42"}
    )
    assert r.status_code == 200 and r.headers["x-request-id"] == "client-42"
    record = _access_record(server, "client-42")
    assert record["logger"] == "service.access" and record["level"] == "info"
    assert {k: record[k] for k in ("method", "path", "status", "model", "version", "samples")} == {
        "method": "POST",
        "path": "/v1/models/{name}/predict",
        "status": 200,
        "model": "moons-node",
        "version": "2",
        "samples": 2,
    }
    assert record["nfe"] == sum(r.json()["nfe"]) and record["latency_ms"] > 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+\+00:00", record["ts"])


def test_trajectories_and_errors_are_logged_too(server: ServiceProcess) -> None:
    r = server.client.post(
        "/v1/models/moons-node/trajectory", json={"inputs": [[0.5, -0.25]], "num_points": 3}
    )
    record = _access_record(server, r.headers["x-request-id"])
    assert record["path"] == "/v1/models/{name}/trajectory" and record["nfe"] == sum(r.json()["nfe"])
    missing = server.client.get("/v1/models/no-such-model")
    record = _access_record(server, missing.headers["x-request-id"])
    assert (record["status"], record["model"], record["nfe"]) == (404, None, None)


def test_the_raw_path_of_an_unmatched_request_is_not_logged(server: ServiceProcess) -> None:
    r = server.client.get("/no/such/route/with-secret-token-123")
    record = _access_record(server, r.headers["x-request-id"])
    assert record["path"] == "unmatched" and record["status"] == 404
    assert "secret-token" not in server.log_path.read_text()


@pytest.mark.parametrize("given", ["has spaces", "x" * 129, "caf\u00e9", "tab\there", ""])
def test_an_unsafe_request_id_is_replaced(server: ServiceProcess, given: str) -> None:
    headers = [(b"X-Request-ID", given.encode("latin-1"))]
    r = server.client.get("/healthz", headers=headers)
    assert HEX_ID.fullmatch(r.headers["x-request-id"])
    _access_record(server, r.headers["x-request-id"])


def test_a_missing_request_id_is_generated_and_unique(server: ServiceProcess) -> None:
    ids = {server.client.get("/healthz").headers["x-request-id"] for _ in range(5)}
    assert len(ids) == 5 and all(HEX_ID.fullmatch(i) for i in ids)


def test_every_line_the_server_writes_is_json(server: ServiceProcess) -> None:
    server.client.get("/readyz")
    lines = [line for line in server.log_path.read_text().splitlines() if line.strip()]
    assert lines and all(isinstance(json.loads(line), dict) for line in lines)
    assert any(r["logger"] == "service.lifecycle.loading" for r in map(json.loads, lines))


def test_request_id_rules() -> None:
    assert accept_request_id("abc-DEF_123.~") == "abc-DEF_123.~"
    assert accept_request_id("x" * 128) == "x" * 128
    for bad in (None, "", "x" * 129, "a b", "a\nb", "\u00e9", "a\x00"):
        assert HEX_ID.fullmatch(accept_request_id(bad))


def test_json_formatter_writes_fields_and_exceptions_on_one_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord(
            "service.x", logging.ERROR, __file__, 1, "failed %s", ("here",), sys.exc_info()
        )
    record.fields = {"status": 500}
    record.request_id = "rid"
    line = JsonFormatter().format(record)
    assert "\n" not in line
    out = json.loads(line)
    assert (out["message"], out["status"], out["request_id"], out["level"]) == (
        "failed here",
        500,
        "rid",
        "error",
    )
    assert "ValueError: boom" in out["exception"]


def test_text_format_keeps_uvicorn_lines() -> None:
    text, structured = log_config("info", "text"), log_config("info", "json")
    assert "json" not in text["formatters"] and text["handlers"]["default"]["formatter"] == "default"
    assert structured["formatters"]["json"]["()"] is JsonFormatter
    for config in (text, structured):
        assert config["loggers"]["service.access"]["handlers"] == ["service_access"]
        assert all(h["filters"] == ["request_id"] for h in config["handlers"].values())


def test_text_format_writes_one_access_line_per_request(store_template: Path, tmp_path: Path) -> None:
    """uvicorn's access formatter once met our access records: a '--- Logging error ---' traceback
    per request and no access line at all."""
    shutil.copytree(store_template, tmp_path / "store")
    with service_process(
        tmp_path / "store", tmp_path / "service.log", args=("--log-format", "text")
    ) as server:
        r = server.client.post(PREDICT, json={"inputs": [[0.0, 0.9]]}, headers={"X-Request-ID": "text-1"})
        assert r.status_code == 200
        deadline = time.monotonic() + 10
        while "request_id=text-1" not in server.log_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
    log = server.log_path.read_text()
    assert "Logging error" not in log and "Traceback" not in log
    [line] = [line for line in log.splitlines() if "request_id=text-1" in line]
    assert re.match(r"INFO: +POST /v1/models/\{name\}/predict 200 moons-node/\d+ nfe=\d+ [\d.]+ ms", line)
