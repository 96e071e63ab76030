"""The CLI as users meet it. Bad ``train`` options and the end-to-end train run in real processes;
the store commands run through ``main()`` in-process (same parser and handlers, no interpreter start).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from store_fakes import kill_publish

from models_store import ModelStore
from training.cli import main

BAD_CSV = "a,b,label\n" + "".join(f"{i},{i},{i % 2}\n" for i in range(12)) + "1,seven,0\n"
NO_LABEL_CSV = "a,b,kind\n" + "".join(f"{i},{i},{i % 2}\n" for i in range(12))


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def _kill_a_publish(store: Path, name: str, tmp_path: Path) -> list[str]:
    """A real publish of ``name`` in another process, SIGKILLed while it writes its temporary folder;
    returns the names of the temporary folders it left."""
    kill_publish(store, name, "hang", tmp_path)
    return sorted(p.name for p in (store / name).iterdir() if p.name.startswith(".tmp-"))


def _main(capsys, *args) -> tuple[int, str, str]:
    """Exit status, stdout and stderr of ``python -m training ARGS``, run in this process."""
    try:
        status = main([str(a) for a in args])
    except SystemExit as exc:  # argparse's own exit for a usage error
        status = exc.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.parametrize(
    "args, csv_text, expected",
    [
        (["--dataset", "nope"], None, "invalid choice: 'nope'"),
        (["--epochs", "-3"], None, "--epochs: Input should be greater than or equal to 1"),
        (["--rtol", "0"], None, "--rtol: Input should be greater than 0"),
        (
            ["--dataset", "csv", "--data", "{csv}"],
            BAD_CSV,
            "line 14, column 'b': 'seven' is not a finite number",
        ),
        (["--dataset", "csv", "--data", "{csv}"], NO_LABEL_CSV, "no label column 'label'"),
    ],
    ids=["unknown-dataset", "negative-epochs", "zero-rtol", "csv-not-a-number", "csv-no-label"],
)
def test_bad_train_options_fail_with_one_line_and_publish_nothing(
    run_cli, tmp_path, args, csv_text, expected
):
    csv_path = tmp_path / "data.csv"
    if csv_text is not None:
        csv_path.write_text(csv_text)
    store = tmp_path / "store"
    result = run_cli("train", "--store", store, "--epochs", "1", *[a.format(csv=csv_path) for a in args])
    assert result.returncode != 0
    assert expected in _one_line(result.stderr)
    assert ModelStore(store).list_models() == []


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--epochs", "three"], "invalid int value"),
        (["--method", "rk5"], "invalid choice: 'rk5'"),
        (["--hidden", "64,x"], "comma-separated integers"),
        (["--name", "Bad Name"], "--name: invalid model name"),
        (["--dataset", "csv"], "dataset csv needs --data PATH"),
        (["--dataset", "csv", "--data", "/nonexistent/d.csv"], "cannot read /nonexistent/d.csv"),
        (["--dataset", "circles", "--encoder", "conv"], "a conv encoder needs input_shape"),
        (["--dataset", "digits", "--samples", "100"], "--samples applies only to --dataset circles or moons"),
        (["--kinetic-energy", "-1"], "--kinetic-energy: Input should be greater than or equal to 0"),
    ],
)
def test_more_bad_train_options(capsys, tmp_path, args, expected):
    status, _, err = _main(capsys, "train", "--store", tmp_path, "--epochs", "1", *args)
    assert status != 0 and expected in _one_line(err)
    assert ModelStore(tmp_path).list_models() == []


@pytest.fixture(scope="module")
def trained(tmp_path_factory, run_cli):
    """A tiny model trained and published by ``python -m training train`` in a real process."""
    store = tmp_path_factory.mktemp("cli") / "store"
    result = run_cli("train", "--store", store, "--name", "tiny-node", "--samples", "200", "--epochs", "2")
    return store, result


def test_train_publishes_a_verified_version(trained, capsys):
    store, result = trained
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("published tiny-node version 1: test accuracy")
    assert _main(capsys, "verify", "tiny-node", "--all", "--store", store) == (0, "ok tiny-node/1\n", "")


def test_verify_reports_a_dead_publishs_leftover_and_still_passes_intact_versions(trained, capsys, tmp_path):
    store = shutil.copytree(trained[0], tmp_path / "store")
    leftovers = _kill_a_publish(store, "tiny-node", tmp_path)
    assert len(leftovers) == 1
    status, out, err = _main(capsys, "verify", "tiny-node", "--all", "--store", store)
    assert (status, out) == (0, "ok tiny-node/1\n")
    assert "warning: tiny-node:" in _one_line(err) and leftovers[0] in err


def test_verify_all_fails_for_a_model_whose_only_publish_died(capsys, tmp_path):
    store = tmp_path / "store"
    leftovers = _kill_a_publish(store, "fresh-node", tmp_path)
    assert len(leftovers) == 1 and ModelStore(store).list_models() == ["fresh-node"]
    for which in (["--all"], []):
        status, out, err = _main(capsys, "verify", "fresh-node", *which, "--store", store)
        assert status != 0 and out == ""
        line = _one_line(err)
        assert "model 'fresh-node' has no complete version" in line and leftovers[0] in line


def test_list_show_and_alias(trained, capsys, tmp_path):
    store = shutil.copytree(trained[0], tmp_path / "store")
    status, listing, _ = _main(capsys, "list", "--store", store)
    assert status == 0 and "tiny-node" in listing and "latest" in listing
    manifest = json.loads(_main(capsys, "show", "tiny-node", "--store", store)[1])
    assert (manifest["name"], manifest["version"], manifest["training"]["epochs"]) == ("tiny-node", 1, 2)
    assert set(manifest["training"]["metrics"]) == {"train", "val", "test"}
    assert (
        _main(capsys, "alias", "tiny-node", "stable", "1", "--store", store)[1] == "tiny-node: stable -> 1\n"
    )
    assert json.loads(_main(capsys, "show", "tiny-node", "stable", "--store", store)[1])["version"] == 1
    assert "stable" in _main(capsys, "list", "--store", store)[1]


@pytest.mark.parametrize(
    "args, expected",
    [
        (["show", "nothing"], "model 'nothing' not found"),
        (["alias", "tiny-node", "x", "9"], "no version 9"),
        (["alias", "tiny-node", "12", "1"], "an alias cannot be a number"),
        (["verify", "tiny-node", "gone"], "no alias"),
    ],
)
def test_bad_store_commands_fail_with_one_line(trained, capsys, args, expected):
    status, _, err = _main(capsys, *args, "--store", trained[0])
    assert status != 0 and expected in _one_line(err)


@pytest.mark.parametrize("filename", ["weights.safetensors", "field.onnx", "golden.json", "manifest.json"])
def test_verify_names_a_tampered_file(trained, capsys, tmp_path, filename):
    store = shutil.copytree(trained[0], tmp_path / "store")
    path = store / "tiny-node" / "1" / filename
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    status, _, err = _main(capsys, "verify", "tiny-node", "--all", "--store", store)
    assert status != 0 and "tiny-node/1" in _one_line(err) and filename in err


def test_demo_refuses_to_overwrite_without_force(capsys, tmp_path):
    (tmp_path / "moons-node" / "1").mkdir(parents=True)
    status, _, err = _main(capsys, "demo", "--store", tmp_path, "--only", "moons-node")
    assert status != 0 and "moons-node already in" in _one_line(err) and "--force" in err
    assert (tmp_path / "moons-node" / "1").is_dir()
