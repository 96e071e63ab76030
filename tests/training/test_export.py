from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from models_store import (
    DEFAULT_STORE_ROOT,
    ONNX_FILES,
    ArchitectureSpec,
    ConvEncoderSpec,
    FieldSpec,
    ModelStore,
    SolverDefaults,
    SplitMetrics,
    build_network,
    load_golden,
    load_network,
)
from training import DEMO_MODELS, ExportError, export_programs
from training import onnx_programs as programs_module
from training.export import epoch_records
from training.golden import GOLDEN_COUNT, GOLDEN_SOLVER, make_golden
from training.solvers import integrate
from training.trainer import EpochStats

DEMO = ModelStore(DEFAULT_STORE_ROOT)
TOLERANCE = 1e-5


def _session(path) -> ort.InferenceSession:
    return ort.InferenceSession(path.read_bytes(), providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module", params=sorted(DEMO_MODELS))
def demo_version(request):
    folder = DEMO.version_dir(request.param, "latest")
    network = load_network(folder, DEMO.verify(request.param, "latest"))
    return folder, network, {name: _session(folder / name) for name in ONNX_FILES}


@pytest.mark.parametrize("batch", [1, 7])
def test_demo_onnx_programs_agree_with_torch(demo_version, batch):
    _, network, sessions = demo_version
    spec = network.spec
    generator = torch.Generator().manual_seed(batch)
    x = torch.rand(batch, *spec.input_shape, generator=generator)
    t = torch.rand(batch, 1, generator=generator)
    z = torch.randn(batch, spec.state_dim, generator=generator)
    with torch.no_grad():
        cases = [
            ("encoder.onnx", {"x": x}, network.encoder(x)),
            ("field.onnx", {"t": t, "z": z}, network.field(t, z)),
            ("head.onnx", {"z": z}, network.head(z)),
        ]
    for name, feeds, want in cases:
        got = sessions[name].run(None, {k: v.numpy() for k, v in feeds.items()})[0]
        np.testing.assert_allclose(got, want.numpy(), rtol=0, atol=TOLERANCE, err_msg=name)


def test_demo_goldens_are_tight_solutions(demo_version):
    """Golden probabilities are within 1e-5 of a far tighter solve (the truth, for this purpose)."""
    folder, network, _ = demo_version
    golden = load_golden(folder)
    exact = copy.deepcopy(network).double()
    x = torch.tensor(golden.inputs, dtype=torch.float64).reshape(-1, *network.spec.input_shape)
    with torch.no_grad():
        z1 = integrate(exact.field, exact.initial_state(x), SolverDefaults(rtol=1e-10, atol=1e-10))
        truth = torch.softmax(exact.head(z1), dim=1).numpy()
    assert golden.solver == GOLDEN_SOLVER and len(golden.inputs) == GOLDEN_COUNT == len(golden.nfe)
    np.testing.assert_allclose(np.array(golden.probabilities), truth, rtol=0, atol=1e-5)
    assert golden.labels == truth.argmax(1).tolist()


SPECS = [
    ArchitectureSpec(input_shape=[3], field=FieldSpec(hidden=[8], time_input=True), num_classes=2),
    ArchitectureSpec(
        input_shape=[1, 6, 6],
        encoder=ConvEncoderSpec(channels=[2], latent_dim=3),
        augment_dim=1,
        num_classes=3,
    ),
]


@pytest.mark.parametrize("spec", SPECS, ids=["timed-node", "conv-anode"])
def test_export_programs_have_a_dynamic_batch_and_the_documented_names(spec):
    torch.manual_seed(0)
    programs = export_programs(build_network(spec))
    signatures = {
        name: ([(i.name, i.shape) for i in s.get_inputs()], [(o.name, o.shape) for o in s.get_outputs()])
        for name, s in ((n, ort.InferenceSession(p)) for n, p in programs.items())
    }
    state, image = spec.state_dim, spec.input_shape
    assert signatures == {
        "encoder.onnx": ([("x", ["batch", *image])], [("h", ["batch", spec.encoded_dim])]),
        "field.onnx": ([("t", ["batch", 1]), ("z", ["batch", state])], [("dz", ["batch", state])]),
        "head.onnx": ([("z", ["batch", state])], [("logits", ["batch", spec.num_classes])]),
    }


@pytest.mark.parametrize("spec", SPECS, ids=["timed-node", "conv-anode"])
def test_export_programs_carry_no_path_of_the_machine_that_built_them(spec):
    """The exporter writes each node's Python stack trace (absolute paths, line numbers) into the
    graph; they are dropped, so the same weights export to the same bytes anywhere."""
    torch.manual_seed(0)
    repo = str(Path(__file__).resolve().parents[2])
    for name, program in export_programs(build_network(spec)).items():
        assert repo.encode() not in program, name
        keys = {p.key for n in onnx.load_from_string(program).graph.node for p in n.metadata_props}
        assert "pkg.torch.onnx.stack_trace" not in keys, name


def test_a_program_that_disagrees_is_refused(monkeypatch):
    monkeypatch.setattr(programs_module, "TOLERANCE", -1.0)  # nothing can pass: the check must run
    with pytest.raises(ExportError, match=r"encoder\.onnx disagrees with torch"):
        export_programs(build_network(SPECS[0]))


def test_golden_labels_are_the_argmax_of_tight_probabilities():
    torch.manual_seed(0)
    network = build_network(SPECS[0]).eval()
    golden = make_golden(network, torch.randn(40, 3), SolverDefaults())
    probabilities = np.array(golden.probabilities)
    assert probabilities.shape == (GOLDEN_COUNT, 2) and len(golden.nfe) == GOLDEN_COUNT
    assert np.allclose(probabilities.sum(1), 1) and golden.labels == probabilities.argmax(1).tolist()
    assert network.field.net[0].weight.dtype == torch.float32  # the float64 copy left the network alone


def _stats(epoch: int, loss: float = 0.5, val_loss: float = 0.6) -> EpochStats:
    return EpochStats(epoch, loss, 0.9, 26.0, SplitMetrics.model_construct(accuracy=0.8, loss=val_loss))


def test_a_long_history_keeps_every_kth_epoch_and_the_last():
    records = epoch_records([_stats(n) for n in range(1, 2501)], limit=1000)
    epochs = [r.epoch for r in records]
    assert len(records) <= 1000 and epochs[0] == 1 and epochs[-1] == 2500
    assert set(np.diff(epochs[:-1])) == {3}


def test_numbers_that_are_not_finite_become_null_in_the_history():
    first, second = epoch_records([_stats(1, loss=float("nan")), _stats(2, val_loss=float("inf"))])
    assert (first.loss, first.val) == (None, SplitMetrics(accuracy=0.8, loss=0.6))
    assert (second.loss, second.val) == (0.5, None)
