from __future__ import annotations

import pytest
import torch

from models_store import ArchitectureSpec, SolverDefaults, build_network
from training import nfe_stats, solve_each, split_metrics
from training.datasets import Split
from training.evaluation import predict_logits

SOLVER = SolverDefaults()


@pytest.fixture
def network():
    torch.manual_seed(0)
    return build_network(ArchitectureSpec(input_shape=[2], augment_dim=1, num_classes=2)).eval()


def test_per_sample_nfe_does_not_depend_on_batchmates(network):
    easy, hard = torch.zeros(1, 2), torch.tensor([[40.0, -40.0]])
    _, alone = solve_each(network, easy, SOLVER)
    _, together = solve_each(network, torch.cat([easy, hard]), SOLVER)
    assert together[0] == alone[0]


def test_per_sample_logits_match_the_batched_solve(network):
    x = torch.randn(6, 2)
    logits, nfe = solve_each(network, x, SOLVER)
    assert len(nfe) == 6 and min(nfe) > 0
    assert torch.allclose(logits, predict_logits(network, x, SOLVER), atol=1e-3)


def test_split_metrics(network):
    x = torch.randn(20, 2)
    labels = predict_logits(network, x, SOLVER).argmax(1)
    assert split_metrics(network, Split(x.numpy(), labels.numpy()), SOLVER).accuracy == 1.0
    assert split_metrics(network, Split(x.numpy(), (1 - labels).numpy()), SOLVER).accuracy == 0.0


def test_nfe_stats():
    stats = nfe_stats([14] * 18 + [20, 200])
    assert (stats.mean, stats.p50) == (pytest.approx(23.6), 14.0)
    assert 20 < stats.p95 < 200
