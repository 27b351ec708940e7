"""DADH's losses against direct re-computations (loops over pairs/items)."""
import math

import pytest
import torch

from hashplugins.models.losses import (AsymmetricInnerProductLoss,
                                       AsymmetricPairwiseLogisticLoss,
                                       BitBalanceLoss, FeatureCodeGapLoss,
                                       pairwise_logistic_loss)

torch.set_num_threads(1)


def _data(n=5, m=7, k=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(n, k, generator=g, dtype=torch.float64).tanh()
    v = torch.randn(m, k, generator=g, dtype=torch.float64).tanh()
    sim = (torch.rand(n, m, generator=g) > 0.6).double()
    return u, v, sim


@pytest.mark.parametrize('scale', [0.5, 1.0])
def test_asymmetric_logistic_matches_loop(scale):
    u, v, sim = _data()
    loss = AsymmetricPairwiseLogisticLoss(scale=scale, loss_weight=10.)
    total = 0.
    for i in range(u.shape[0]):
        for j in range(v.shape[0]):
            theta = scale * float(u[i] @ v[j])
            total += math.log1p(math.exp(theta)) - float(sim[i, j]) * theta
    expected = 10. * total / sim.numel()
    assert float(loss(u, v, sim)) == pytest.approx(expected, rel=1e-12)


def test_asymmetric_logistic_checks_shapes():
    u, v, sim = _data()
    with pytest.raises(ValueError, match='similarity must be'):
        AsymmetricPairwiseLogisticLoss()(u, v, sim.t())
    with pytest.raises(ValueError, match='include_self_pairs'):
        pairwise_logistic_loss(u, sim, include_self_pairs=False, targets=v)


@pytest.mark.parametrize('form, ratio', [('signed', None), ('binary', None),
                                         ('balanced', 0.25),
                                         ('balanced', None)])
@pytest.mark.parametrize('target_scale', [None, 3.0])
def test_inner_product_matches_loop(form, ratio, target_scale):
    u, v, sim = _data()
    k = u.shape[1]
    c = k if target_scale is None else target_scale
    if form == 'balanced' and ratio is None:
        # DeepHash-pytorch: r from the similarity block itself
        r = float(sim.sum()) / float((1 - sim).sum())
    else:
        r = ratio
    total = 0.
    for i in range(u.shape[0]):
        for j in range(v.shape[0]):
            s = float(sim[i, j])
            target = {'signed': 2 * s - 1, 'binary': s,
                      'balanced': s * (1 + (r or 0)) - (r or 0)}[form]
            total += (float(u[i] @ v[j]) - c * target)**2
    loss = AsymmetricInnerProductLoss(
        target_scale=target_scale, similarity=form, loss_weight=0.5)
    extra = {} if ratio is None else dict(similar_ratio=ratio)
    expected = 0.5 * total / sim.numel()
    assert float(loss(u, v, sim, **extra)) == pytest.approx(expected,
                                                            rel=1e-12)


def test_inner_product_rejects_unknown_form():
    with pytest.raises(ValueError, match='similarity must be'):
        AsymmetricInnerProductLoss(similarity='pm1')


@pytest.mark.parametrize('avg_factor', [None, 35.])
def test_gap_matches_loop(avg_factor):
    u, _, _ = _data()
    g = torch.Generator().manual_seed(3)
    b = torch.where(torch.rand(u.shape, generator=g) < .5, -1., 1.).double()
    total = sum(float((u[i, t] - b[i, t])**2) for i in range(u.shape[0])
                for t in range(u.shape[1]))
    a = u.shape[0] if avg_factor is None else avg_factor
    loss = FeatureCodeGapLoss(loss_weight=100.)
    assert float(loss(u, b, avg_factor)) == pytest.approx(
        100. * total / a, rel=1e-12)
    with pytest.raises(ValueError, match='must match'):
        loss(u, b[:-1])


def test_bit_balance_matches_loop_and_full_gradient():
    u, _, _ = _data()
    offset = torch.linspace(-2, 3, u.shape[1], dtype=torch.float64)
    sums = [sum(float(u[i, t]) for i in range(u.shape[0])) + float(offset[t])
            for t in range(u.shape[1])]
    expected = 10. * sum(x * x for x in sums) / 7.
    x = u.clone().requires_grad_()
    value = BitBalanceLoss(loss_weight=10.)(x, offset, avg_factor=7.)
    assert value.item() == pytest.approx(expected, rel=1e-12)
    value.backward()
    # d/dx_i of w||o + sum x||^2 / a is 2w(o + sum x)/a for every row i
    row = 2 * 10. * torch.tensor(sums, dtype=torch.float64) / 7.
    assert torch.allclose(x.grad, row.expand_as(x.grad))
    assert float(BitBalanceLoss()(u)) == pytest.approx(
        float(u.sum(0).pow(2).sum()), rel=1e-12)
