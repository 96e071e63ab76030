"""Settings (env prefix, bounds) and ``python -m service`` (options become settings for every worker)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from models_store import DEFAULT_STORE_ROOT
from service import Settings
from service import __main__ as cli


def test_defaults_are_safe() -> None:
    s = Settings(_env_file=None)
    assert (s.host, s.port, s.store, s.workers) == ("127.0.0.1", 8000, DEFAULT_STORE_ROOT, 1)
    assert s.poll_interval_s == 2.0
    assert s.api_key is None and s.admin_api_key is None
    assert (s.max_inputs, s.max_time_points, s.max_steps_cap, s.min_tolerance) == (1024, 1000, 10_000, 1e-10)
    assert s.max_body_bytes == 8 << 20 and s.max_tolerance < 1


def test_environment_sets_fields_and_keys_stay_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ODESERVE_MAX_INPUTS", "16")
    monkeypatch.setenv("ODESERVE_ADMIN_API_KEY", "s3cret")
    s = Settings()
    assert s.max_inputs == 16 and s.admin_api_key is not None
    assert s.admin_api_key.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(s)


@pytest.mark.parametrize(
    "field, value",
    [
        ("max_inputs", 0),
        ("port", 70000),
        ("poll_interval_s", -1),
        ("min_tolerance", 0),
        ("max_tolerance", 1),
        ("max_steps_cap", 0),
        ("max_body_bytes", 10),
        ("torch_threads", 0),
        ("workers", 0),
        ("bogus", 1),
    ],
)
def test_out_of_bounds_settings_are_refused(field: str, value: Any) -> None:
    with pytest.raises(ValidationError):
        Settings(**{field: value})


def test_tolerance_bounds_must_be_ordered() -> None:
    with pytest.raises(ValidationError):
        Settings(min_tolerance=0.1, max_tolerance=0.01)


def test_cli_options_reach_uvicorn_and_the_workers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(os, "environ", os.environ.copy())
    calls: list[tuple[tuple, dict]] = []
    monkeypatch.setattr(cli.uvicorn, "run", lambda *a, **kw: calls.append((a, kw)))
    cli.main(
        [
            "--host",
            "0.0.0.0",
            "--port",
            "9001",
            "--store",
            str(tmp_path),
            "--workers",
            "3",
            "--poll-interval",
            "0",
        ]
    )
    ((args, kwargs),) = calls
    assert args == ("service.app:create_app",) and kwargs["factory"] is True
    assert (kwargs["host"], kwargs["port"], kwargs["workers"]) == ("0.0.0.0", 9001, 3)
    worker = Settings()  # what create_app() builds in each worker process
    assert (worker.port, worker.store, worker.workers, worker.poll_interval_s) == (9001, tmp_path, 3, 0.0)


def test_cli_refuses_bad_values(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(os, "environ", os.environ.copy())
    with pytest.raises(SystemExit) as exc:
        cli.main(["--port", "0"])
    assert exc.value.code == 2 and "port" in capsys.readouterr().err
