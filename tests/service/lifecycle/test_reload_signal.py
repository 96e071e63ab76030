"""The reload generation a replica's workers share: bumps, the cheap watch, acknowledgements."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from service.lifecycle import reload_signal
from service.lifecycle.reload_signal import ReloadSignal, WorkerAcks, prepare_reload_dir


def _other_worker(folder: Path, pid: int, generation: int) -> None:
    """What another worker's acknowledgement looks like on disk."""
    (folder / f"worker-{pid}").write_text(str(generation))


@pytest.fixture
def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.fixture
def live_process() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc
    proc.kill()
    proc.wait()


def test_a_bump_is_seen_once_by_the_other_workers_and_not_by_its_own(tmp_path: Path) -> None:
    mine, other = ReloadSignal(tmp_path), ReloadSignal(tmp_path)
    assert mine.join() == other.join() == 0
    assert other.pending() is None
    assert mine.bump() == 1
    assert mine.pending() is None  # the worker that bumped applies it itself
    assert other.pending() == 1
    assert other.pending() is None  # claimed: applied once
    assert mine.bump() == 2 and other.current() == 2
    assert other.pending() == 2


def test_a_worker_that_joins_after_a_bump_does_not_reapply_it(tmp_path: Path) -> None:
    ReloadSignal(tmp_path).bump()
    late = ReloadSignal(tmp_path)
    assert late.join() == 1  # its first refresh reads the store after the reload
    assert late.pending() is None


def test_acknowledgements_count_the_live_workers_only(
    tmp_path: Path, dead_pid: int, live_process: subprocess.Popen[bytes]
) -> None:
    mine = ReloadSignal(tmp_path)
    mine.join()
    mine.acknowledge(0)
    _other_worker(tmp_path, live_process.pid, 0)
    _other_worker(tmp_path, dead_pid, 0)
    generation = mine.bump()
    mine.acknowledge(generation)
    assert mine.acks(generation) == WorkerAcks(live=2, applied=1)
    assert not (tmp_path / f"worker-{dead_pid}").exists()  # a dead worker's file is dropped
    _other_worker(tmp_path, live_process.pid, generation)
    assert mine.acks(generation) == WorkerAcks(live=2, applied=2)
    mine.leave()
    assert mine.acks(generation) == WorkerAcks(live=1, applied=1)


def test_an_acknowledgement_never_goes_back(tmp_path: Path) -> None:
    mine = ReloadSignal(tmp_path)
    mine.acknowledge(3)
    mine.acknowledge(2)  # a slower, older reload finishing late
    assert (tmp_path / f"worker-{os.getpid()}").read_text() == "3"


def test_waiting_ends_when_all_have_applied_or_at_the_bound(
    tmp_path: Path, live_process: subprocess.Popen[bytes]
) -> None:
    mine = ReloadSignal(tmp_path)
    generation = mine.bump()
    mine.acknowledge(generation)
    _other_worker(tmp_path, live_process.pid, 0)

    async def wait(timeout_s: float) -> tuple[WorkerAcks, float]:
        started = time.monotonic()
        acks = await mine.wait_applied(generation, timeout_s)
        return acks, time.monotonic() - started

    acks, waited = anyio.run(wait, 0.3)  # the other one never catches up: the bound ends the wait
    assert acks == WorkerAcks(live=2, applied=1) and 0.3 <= waited < 2

    async def catch_up_later() -> tuple[WorkerAcks, float]:
        async with anyio.create_task_group() as tg:
            tg.start_soon(_late_ack, tmp_path, live_process.pid, generation)
            return await wait(10)

    acks, waited = anyio.run(catch_up_later)
    assert acks == WorkerAcks(live=2, applied=2) and waited < 5


async def _late_ack(folder: Path, pid: int, generation: int) -> None:
    await anyio.sleep(0.2)
    _other_worker(folder, pid, generation)


def test_a_dead_worker_does_not_hold_the_wait(tmp_path: Path, dead_pid: int) -> None:
    mine = ReloadSignal(tmp_path)
    generation = mine.bump()
    mine.acknowledge(generation)
    _other_worker(tmp_path, dead_pid, 0)
    started = time.monotonic()
    assert anyio.run(mine.wait_applied, generation, 10.0) == WorkerAcks(live=1, applied=1)
    assert time.monotonic() - started < 1


def test_the_launcher_prepares_a_folder_for_several_workers_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(reload_signal.ENV, "/inherited/from/a/parent")
    assert prepare_reload_dir(1) is None
    assert reload_signal.ENV not in os.environ and ReloadSignal.from_environment() is None
    folder = prepare_reload_dir(3)
    assert folder is not None and folder.is_dir() and list(folder.iterdir()) == []
    signal = ReloadSignal.from_environment()
    assert signal is not None and signal.folder == folder
    assert prepare_reload_dir(3) != folder  # a fresh folder for every launch
