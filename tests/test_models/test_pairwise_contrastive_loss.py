"""DSH's pairwise contrastive loss (PairwiseContrastiveLoss) against direct
re-computations: loops over the unique pairs, the official Caffe layer's
normalisation and hand-written gradient, edge cases, knobs, errors, and a
2-rank run equal to one process with the whole batch."""
import pytest
import torch
import torch.distributed as dist
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import hashplugins  # noqa: F401
from dist_helpers import run_ranks
from hashplugins.models.losses import (PairwiseContrastiveLoss,
                                       pairwise_contrastive_loss)


def _direct(codes, labels, margin, alpha, reduction):
    """Loops over the unique pairs i < j, from DSH's eqs. 3-4 written with
    the paper's y (0 similar, 1 dissimilar)."""
    n, bits = codes.shape
    m = 2 * bits if margin is None else margin
    out = torch.zeros(n, n, dtype=torch.float64)
    for i in range(n):
        for j in range(i + 1, n):
            y = 0. if float((labels[i] * labels[j]).sum()) > 0 else 1.
            d = sum((float(codes[i, k]) - float(codes[j, k]))**2
                    for k in range(bits))
            reg = sum(abs(abs(float(codes[p, k])) - 1) for p in (i, j)
                      for k in range(bits))
            out[i, j] = (0.5 * (1 - y) * d + 0.5 * y * max(m - d, 0.) +
                         alpha * reg)
    if reduction == 'none':
        return out
    if reduction == 'sum':
        return out.sum()
    return out.sum() / (n * (n - 1) / 2)


def _problem(n=7, bits=6, classes=3, seed=0, spread=1.):
    g = torch.Generator().manual_seed(seed)
    codes = torch.randn(n, bits, generator=g, dtype=torch.float64) * spread
    labels = (torch.rand(n, classes, generator=g) > 0.5).double()
    labels[0] = 0  # shares nothing
    labels[1, 0] = labels[2, 0] = 1.
    return codes, labels


@pytest.mark.parametrize('reduction', ['mean', 'sum', 'none'])
@pytest.mark.parametrize('margin,alpha', [(None, 0.01), (5., 0.), (30., .3)])
def test_matches_direct_loops(margin, alpha, reduction):
    # spread 1: some dissimilar pairs inside the margin 2B = 12, some out
    codes, labels = _problem()
    loss = PairwiseContrastiveLoss(margin=margin, reg_weight=alpha,
                                   reduction=reduction, loss_weight=0.5)
    want = 0.5 * _direct(codes, labels, margin, alpha, reduction)
    torch.testing.assert_close(loss(codes, labels), want, rtol=1e-12,
                               atol=1e-12)


def test_margin_default_is_twice_the_bits():
    codes, labels = _problem(bits=6, spread=0.7)
    torch.testing.assert_close(
        PairwiseContrastiveLoss()(codes, labels),
        PairwiseContrastiveLoss(margin=12.)(codes, labels))
    assert not torch.allclose(
        PairwiseContrastiveLoss()(codes, labels),
        PairwiseContrastiveLoss(margin=11.)(codes, labels))


def test_mean_is_the_official_normalisation():
    """The official HashingLoss layer's forward: sum over i < j of
    (D or max(m - D, 0)), no 1/2, divided by N (N - 1); its prior term is
    tradeoff * sum_i || |b_i| - 1 ||_1 / N. Ours: the same pair term, and
    the paper's prior inside the pair sum weighs 2 alpha per image."""
    codes, labels = _problem(n=6, bits=4)
    n, m = 6, 8.
    pair_sum, prior = 0., 0.
    for i in range(n):
        for j in range(i + 1, n):
            d = float((codes[i] - codes[j]).pow(2).sum())
            sim = float((labels[i] * labels[j]).sum()) > 0
            pair_sum += d if sim else max(m - d, 0.)
        prior += float((codes[i].abs() - 1).abs().sum())
    official_pairs = pair_sum / (n * (n - 1))
    assert float(PairwiseContrastiveLoss(reg_weight=0.)(
        codes, labels)) == pytest.approx(official_pairs, rel=1e-12)
    alpha = 0.05
    assert float(PairwiseContrastiveLoss(reg_weight=alpha)(
        codes, labels)) == pytest.approx(
            official_pairs + 2 * alpha * prior / n, rel=1e-12)


def test_gradient_is_twice_the_official_backward():
    """The official layer's hand-written gradient (bottom diff) with the
    same alpha is half the gradient of our 'mean' loss: its backward
    halves the pair term relative to its forward, which makes it exactly
    (paper's objective / number of pairs) / 2."""
    codes, labels = _problem(n=6, bits=4, spread=1.3)
    codes.requires_grad_()
    alpha, m = 0.05, 8.
    grad, = torch.autograd.grad(
        PairwiseContrastiveLoss(reg_weight=alpha)(codes, labels), codes)
    n, bits = codes.shape
    b = codes.detach()
    official = torch.zeros_like(b)
    scale = 1. / (n * (n - 1))
    for i in range(n):
        for j in range(i + 1, n):
            diff = b[i] - b[j]
            d = float(diff.pow(2).sum())
            if float((labels[i] * labels[j]).sum()) > 0:
                official[i] += scale * diff
                official[j] -= scale * diff
            elif m - d > 0:
                official[i] -= scale * diff
                official[j] += scale * diff
        for k in range(bits):
            x = float(b[i, k])
            sign = 1. if (x >= 1 or -1 <= x <= 0) else -1.
            official[i, k] += alpha / n * sign
    torch.testing.assert_close(grad, 2 * official, rtol=1e-10, atol=1e-12)


def test_edge_cases():
    # one image: no pair, loss 0 with a zero gradient
    one = torch.randn(1, 4, dtype=torch.float64, requires_grad=True)
    value = PairwiseContrastiveLoss()(one, torch.ones(1, 2))
    assert value.item() == 0.
    grad, = torch.autograd.grad(value, one)
    assert torch.equal(grad, torch.zeros_like(grad))
    # binary codes: the prior is 0; equal similar codes cost nothing,
    # opposite dissimilar codes sit at D = 4B = 2m, past the margin
    codes = torch.tensor([[1., -1, 1], [1, -1, 1], [-1, 1, -1]]).double()
    labels = torch.tensor([[1., 0], [1, 0], [0, 1]]).double()
    none = PairwiseContrastiveLoss(reduction='none')(codes, labels)
    assert torch.equal(none, torch.zeros(3, 3, dtype=torch.float64))
    # a dissimilar pair exactly at the margin: hinge 0
    at = torch.tensor([[1., 1], [-1., 1]]).double()  # D = 4
    diff = torch.tensor([[1., 0], [0, 1]]).double()
    assert PairwiseContrastiveLoss(margin=4.)(at, diff).item() == 0.
    assert PairwiseContrastiveLoss(margin=5.)(at, diff).item() == 0.5
    # near-equal float32 codes: |a|^2 + |b|^2 - 2ab rounds to about
    # +-1e-7 here; the clamp keeps the distance from going negative
    near = torch.full((4, 16), 0.3) + torch.randn(4, 16) * 1e-7
    out = pairwise_contrastive_loss(near, torch.ones(4, 4), reg_weight=0.,
                                    reduction='none')
    assert (out >= 0).all() and float(out.max()) < 1e-6


def test_reduction_override_and_avg_factor():
    codes, labels = _problem()
    loss = PairwiseContrastiveLoss()
    total = loss(codes, labels, reduction_override='sum')
    torch.testing.assert_close(loss(codes, labels, avg_factor=4.),
                               total / 4.)
    none = loss(codes, labels, reduction_override='none')
    assert none.shape == (7, 7)
    assert torch.equal(none.tril(), torch.zeros_like(none))


@pytest.mark.parametrize('kwargs,match', [
    (dict(margin=0.), 'margin must be None'),
    (dict(margin=-2.), 'margin must be None'),
    (dict(margin='2k'), 'margin must be None'),
    (dict(margin=True), 'margin must be None'),
    (dict(reg_weight=-0.01), 'reg_weight must be a number >= 0'),
    (dict(reg_weight=None), 'reg_weight must be a number >= 0'),
    (dict(reg_weight=float('nan')), 'reg_weight must be a number >= 0'),
    (dict(reduction='batchmean'), 'reduction must be one of'),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MODELS.build(dict(type='PairwiseContrastiveLoss', **kwargs))
    codes, labels = _problem()
    sim = (labels @ labels.t() > 0).double()
    with pytest.raises(ValueError, match=match):
        pairwise_contrastive_loss(codes, sim, **kwargs)


# ----------------------------------------------------------------------
# The pairs cross ranks: HashHead gathers the global batch first.
N, FEAT = 8, 6


def _head():
    torch.manual_seed(0)
    head = MODELS.build(
        dict(type='HashHead', in_channels=FEAT, num_bits=6, num_classes=5,
             activation='identity',
             # large weights: outputs of order 1, pairs inside the margin
             init_cfg=dict(type='Normal', layer='Linear', std=0.5),
             losses=dict(pairwise=dict(type='PairwiseContrastiveLoss',
                                       reg_weight=0.1))))
    head.init_weights()
    return head


def _data():
    g = torch.Generator().manual_seed(4)
    feats = torch.randn(N, FEAT, generator=g)
    labels = [0, 1, 2, 0, 1, 3, 4, 0]
    return feats, labels


def _loss_and_grads(head, feats, labels):
    samples = [DataSample().set_gt_label(y) for y in labels]
    loss = head.loss(feats, samples)['loss_pairwise']
    loss.backward()
    return loss.item(), {k: p.grad.clone()
                         for k, p in head.named_parameters()}


def _worker(rank, port, queue):
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}',
                            rank=rank, world_size=2)
    torch.set_num_threads(1)
    head = _head()
    feats, labels = _data()
    half = slice(rank * N // 2, (rank + 1) * N // 2)
    value, grads = _loss_and_grads(head, feats[half], labels[half])
    for g in grads.values():  # DDP averages gradients over ranks
        dist.all_reduce(g)
        g /= 2
    queue.put((rank, value, {k: g.numpy() for k, g in grads.items()}))
    dist.barrier()
    dist.destroy_process_group()


def test_two_ranks_of_four_match_one_process_of_eight():
    results = run_ranks(_worker, num_results=2)
    value, grads = _loss_and_grads(_head(), *_data())
    assert value > 0
    for rank, rank_value, rank_grads in results:
        assert rank_value == pytest.approx(value, rel=1e-6), rank
        for key, grad in grads.items():
            torch.testing.assert_close(torch.from_numpy(rank_grads[key]),
                                       grad, rtol=1e-5, atol=1e-6, msg=key)
