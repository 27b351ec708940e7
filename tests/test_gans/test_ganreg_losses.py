"""Max-entropy and triplet ranking losses against direct computations."""
import itertools
import math

import pytest
import torch
from mmpretrain.registry import MODELS

import hashplugins  # noqa: F401
from hashplugins.models.losses import max_entropy_loss, triplet_ranking_loss

torch.set_num_threads(1)


def _direct_max_entropy(codes, mode, code_range):
    total = 0.
    n, q = codes.shape
    for i in range(n):
        for k in range(q):
            z = float(codes[i, k])
            p = (1 + z) / 2 if code_range == 'tanh' else z
            if mode == 'uniform_ce':
                total += -(0.5 * math.log(p) + 0.5 * math.log(1 - p)) / q
            else:
                total += (p * math.log(p) + (1 - p) * math.log(1 - p)) / q
    return total / n


@pytest.mark.parametrize('mode', ['uniform_ce', 'neg_entropy'])
@pytest.mark.parametrize('code_range', ['tanh', 'sigmoid'])
def test_max_entropy_equals_direct_computation(mode, code_range):
    torch.manual_seed(0)
    pre = torch.randn(5, 7, dtype=torch.float64) * 2
    codes = torch.tanh(pre) if code_range == 'tanh' else torch.sigmoid(pre)
    got = max_entropy_loss(codes, mode, code_range)
    assert got.item() == pytest.approx(
        _direct_max_entropy(codes, mode, code_range), rel=1e-12)
    module = MODELS.build(dict(type='MaxEntropyLoss', mode=mode,
                               code_range=code_range, loss_weight=0.5))
    assert module(codes).item() == pytest.approx(0.5 * got.item())


@pytest.mark.parametrize('mode,minimum', [('uniform_ce', math.log(2)),
                                          ('neg_entropy', -math.log(2))])
def test_max_entropy_is_minimal_at_half(mode, minimum):
    # tanh codes: p = 0.5 at z = 0
    grid = torch.linspace(-0.99, 0.99, 199, dtype=torch.float64)
    values = torch.stack([max_entropy_loss(z.view(1, 1), mode)
                          for z in grid])
    assert grid[values.argmin()].abs() < 1e-9
    assert values.min().item() == pytest.approx(minimum)
    assert (values[:99] > values.min()).all()
    # gradient vanishes at p = 0.5, and (a) has gradient (p - 1/2)/q in
    # the sigmoid pre-activation a (p = sigmoid(a)), even when saturated
    z = torch.zeros(1, 4, requires_grad=True)
    max_entropy_loss(z, mode).backward()
    assert torch.allclose(z.grad, torch.zeros(1, 4))
    a = torch.tensor([[8., -8., 0.5, 3.]], dtype=torch.float64,
                     requires_grad=True)
    max_entropy_loss(torch.sigmoid(a), 'uniform_ce', 'sigmoid').backward()
    p = torch.sigmoid(a.detach())
    assert torch.allclose(a.grad, (p - 0.5) / 4)


def test_max_entropy_rejects_bad_knobs():
    with pytest.raises(ValueError, match='mode'):
        MODELS.build(dict(type='MaxEntropyLoss', mode='entropy'))
    with pytest.raises(ValueError, match='code_range'):
        MODELS.build(dict(type='MaxEntropyLoss', code_range='relu'))


def _direct_triplet(codes, labels, margin):
    terms = []
    n = len(codes)
    for i, j, k in itertools.product(range(n), repeat=3):
        sij = float(labels[i] @ labels[j]) > 0
        sik = float(labels[i] @ labels[k]) > 0
        if i != j and sij and not sik:
            dij = float(((codes[i] - codes[j])**2).sum())
            dik = float(((codes[i] - codes[k])**2).sum())
            terms.append(max(0., margin + dij - dik))
    return sum(terms) / len(terms) if terms else 0.


@pytest.mark.parametrize('multi_label', [False, True])
def test_triplet_equals_direct_computation(multi_label):
    torch.manual_seed(1)
    codes = torch.tanh(torch.randn(7, 6, dtype=torch.float64))
    if multi_label:
        labels = (torch.rand(7, 4) > 0.6).double()
    else:
        labels = torch.nn.functional.one_hot(torch.tensor(
            [0, 1, 0, 2, 1, 1, 2]), 3).double()
    for margin in (0.5, 2.0):
        got = triplet_ranking_loss(codes, labels, margin)
        assert got.item() == pytest.approx(
            _direct_triplet(codes, labels, margin), rel=1e-12)


def test_triplet_without_triplets_is_zero_with_grad():
    codes = torch.randn(3, 4, requires_grad=True)
    labels = torch.ones(3, 2)  # all similar: no negatives
    loss = MODELS.build(dict(type='TripletRankingLoss'))(codes, labels)
    loss.backward()
    assert loss.item() == 0 and codes.grad is not None
