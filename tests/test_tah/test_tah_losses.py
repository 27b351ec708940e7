"""TAH's losses against direct re-computations of the official Caffe code
(thuml/TAH pairwise_loss_layer.cu, quantization_loss_layer.cu; spec §2.4)."""
import math

import pytest
import torch
from mmpretrain.registry import MODELS

import hashplugins  # noqa: F401
from hashplugins.models.losses import (TDistributionPairwiseLoss,
                                       t_distribution_pairwise_loss)

torch.set_num_threads(1)


def _official_pairwise_loss(codes, labels, numerator, threshold):
    """Loop over all N^2 ordered pairs as the official forward kernel."""
    n, b = codes.shape
    total = 0.
    for i in range(n):
        for j in range(n):
            s = 1. if float(labels[i] @ labels[j]) > 0 else 0.
            dist = sum((float(codes[i, t]) - float(codes[j, t]))**2
                       for t in range(b))
            sim = numerator / (1. + dist)
            if threshold is None or sim < threshold:
                total += math.log(1. + math.exp(sim)) - s * sim
            else:
                total += (1. - s) * sim
    return total / (n * n)


def _official_pairwise_grad(codes, labels, numerator, threshold):
    """The official backward: dl/dsim = sigmoid(sim) - s (below tau) or
    1 - s (above), dsim/dz_i = -c / (1 + D)^2 * 2 (z_i - z_j), both index
    roles accumulated, divided by N^2."""
    n = codes.shape[0]
    grad = torch.zeros_like(codes, dtype=torch.float64)
    z = codes.double()
    sim_labels = (labels.double() @ labels.double().t() > 0).double()
    for i in range(n):
        for j in range(n):
            diff = z[i] - z[j]
            dist = float(diff @ diff)
            sim = numerator / (1. + dist)
            s = float(sim_labels[i, j])
            if threshold is None or sim < threshold:
                dl_dsim = 1. / (1. + math.exp(-sim)) - s
            else:
                dl_dsim = 1. - s
            dsim_dzi = -numerator / (1. + dist)**2 * 2. * diff
            grad[i] += dl_dsim * dsim_dzi
            grad[j] -= dl_dsim * dsim_dzi
    return grad / (n * n)


def _batch(n=7, b=12, c=4, seed=0, multi_label=False, scale=1.):
    g = torch.Generator().manual_seed(seed)
    codes = torch.tanh(scale * torch.randn(n, b, generator=g,
                                           dtype=torch.float64))
    if multi_label:
        labels = (torch.rand(n, c, generator=g) < 0.4).double()
        labels[labels.sum(1) == 0, 0] = 1.
    else:
        labels = torch.nn.functional.one_hot(
            torch.randint(0, c, (n, ), generator=g), c).double()
    return codes, labels


@pytest.mark.parametrize('numerator,expected', [('half_bits', 6.),
                                                ('bits', 12.), (3.5, 3.5)])
@pytest.mark.parametrize('multi_label', [False, True])
def test_pairwise_loss_equals_official_loop(numerator, expected,
                                            multi_label):
    codes, labels = _batch(multi_label=multi_label)
    loss = TDistributionPairwiseLoss(sim_numerator=numerator)
    ours = loss(codes, labels).item()
    ref = _official_pairwise_loss(codes, labels, expected, 15.)
    assert ours == pytest.approx(ref, rel=1e-12, abs=1e-12)


def test_half_bits_is_integer_division():
    # Odd b: the official int inner_num/2 gives floor(b/2).
    codes, labels = _batch(b=17)
    ours = TDistributionPairwiseLoss()(codes, labels).item()
    assert ours == pytest.approx(
        _official_pairwise_loss(codes, labels, 8., 15.), rel=1e-12)
    assert ours != pytest.approx(
        _official_pairwise_loss(codes, labels, 8.5, 15.), rel=1e-6)


def test_linear_branch_above_threshold_is_used():
    # b = 64 -> numerator 32: identical and near-identical codes give
    # sim >= 15, where the official code switches to (1 - s) * sim.
    codes, labels = _batch(n=6, b=64, scale=3.)
    codes[1] = codes[0]
    labels[1] = labels[0]
    # A dissimilar pair with 15 <= sim < 20 (D = 1.03^2), where the linear
    # branch and softplus differ by log(1 + e^-sim) ~ 2e-7.
    codes[3] = codes[2]
    codes[2, 0], codes[3, 0] = 0.5, -0.53
    labels[3] = 1. - labels[2]
    sim = 32. / (1. + torch.cdist(codes, codes)**2)
    assert (sim >= 15).sum() > codes.shape[0]  # beyond the diagonal
    ours = TDistributionPairwiseLoss()(codes, labels).item()
    assert ours == pytest.approx(
        _official_pairwise_loss(codes, labels, 32., 15.), rel=1e-12)
    # and the branch matters: exact softplus gives a different value
    exact = TDistributionPairwiseLoss(threshold=None)(codes, labels).item()
    assert exact == pytest.approx(
        _official_pairwise_loss(codes, labels, 32., None), rel=1e-12)
    assert abs(exact - ours) > 1e-9


@pytest.mark.parametrize('b,scale', [(12, 1.), (64, 3.)])
def test_autograd_matches_official_backward(b, scale):
    codes, labels = _batch(n=6, b=b, scale=scale, multi_label=True)
    if b == 64:  # exercise the linear branch in the gradient too
        codes[1] = codes[0] * 0.99
    numerator = b // 2
    z = codes.clone().requires_grad_(True)
    TDistributionPairwiseLoss()(z, labels).backward()
    expected = _official_pairwise_grad(codes, labels, numerator, 15.)
    assert torch.allclose(z.grad, expected, rtol=1e-10, atol=1e-14)


def test_pairwise_loss_weight_and_no_reweighting():
    codes, labels = _batch()
    base = TDistributionPairwiseLoss()(codes, labels)
    weighted = TDistributionPairwiseLoss(loss_weight=2.5)(codes, labels)
    assert weighted.item() == pytest.approx(2.5 * base.item())
    # the pure function is the unweighted mean over all ordered pairs
    sim_labels = (labels @ labels.t() > 0).double()
    assert t_distribution_pairwise_loss(codes, sim_labels, 6.).item() == \
        pytest.approx(base.item())


def test_pairwise_loss_rejects_bad_arguments():
    with pytest.raises(ValueError, match='sim_numerator'):
        TDistributionPairwiseLoss(sim_numerator='quarter')
    with pytest.raises(ValueError, match='threshold'):
        TDistributionPairwiseLoss(threshold=0.)
    assert isinstance(
        MODELS.build(dict(type='TDistributionPairwiseLoss')),
        TDistributionPairwiseLoss)


def test_logcosh_quantization_is_the_official_layer():
    """quantization_loss_layer.cu: 1/(N b) sum log cosh(|z| - 1), gradient
    sign(z) tanh(|z| - 1) / (N b) times the loss weight."""
    codes, _ = _batch(n=5, b=10, scale=2.)
    weight = 0.3
    z = codes.clone().requires_grad_(True)
    loss = MODELS.build(
        dict(type='HashQuantizationLoss', mode='logcosh',
             loss_weight=weight))(z)
    n, b = codes.shape
    ref = sum(
        math.log(math.cosh(abs(float(v)) - 1.)) for v in codes.flatten())
    assert loss.item() == pytest.approx(weight * ref / (n * b), rel=1e-12)
    loss.backward()
    expected = weight * torch.sign(codes) * torch.tanh(codes.abs() - 1) / (
        n * b)
    assert torch.allclose(z.grad, expected, rtol=1e-10, atol=1e-15)


def test_tah_t_pairwise_loss_is_dhn_inner_product():
    """TAH-t's loss: DHN's log(1 + e^theta) - s theta, theta = z_i.z_j / 2,
    mean over all ordered pairs (the configured PairwiseLogisticLoss)."""
    codes, labels = _batch()
    loss = MODELS.build(
        dict(type='PairwiseLogisticLoss', scale=0.5,
             include_self_pairs=True))(codes, labels).item()
    n = codes.shape[0]
    ref = 0.
    for i in range(n):
        for j in range(n):
            theta = 0.5 * float(codes[i] @ codes[j])
            s = 1. if float(labels[i] @ labels[j]) > 0 else 0.
            ref += math.log(1 + math.exp(theta)) - s * theta
    assert loss == pytest.approx(ref / n**2, rel=1e-12)
