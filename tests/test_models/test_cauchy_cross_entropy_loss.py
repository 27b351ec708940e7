"""DCH's Cauchy cross-entropy and Cauchy quantization against direct
re-computations (loops over pairs and codes, in the paper's form), their
edge cases in float32, the knobs, bad arguments, and the global batch
under 2-rank gloo training."""
import math

import pytest
import torch
import torch.distributed as dist
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import hashplugins  # noqa: F401
from dist_helpers import run_ranks
from hashplugins.models.losses import (CauchyCrossEntropyLoss,
                                       CauchyQuantizationLoss,
                                       cauchy_cross_entropy,
                                       cauchy_distance, cauchy_quantization)


def _direct_distance(u, v, distance, eps, max_cos=None):
    k = len(u)
    if distance == 'cosine':
        dot = sum(float(a) * float(b) for a, b in zip(u, v))
        nu = math.sqrt(sum(float(a)**2 for a in u))
        nv = math.sqrt(sum(float(b)**2 for b in v))
        cos = dot / (nu * nv)
        if max_cos is not None:
            cos = min(cos, max_cos)
        return k / 2 * max(1 - cos, 0.) + eps
    return sum((float(a) - float(b))**2 for a, b in zip(u, v)) + eps


def _direct_cauchy(codes, labels, gamma, distance='cosine', eps=1e-3,
                   max_cos=None, weighting='paper', include_self=False,
                   reduction='mean'):
    """Paper Eq. 8 with Eq. 2's weights, pair by pair."""
    n = len(codes)
    pairs = [(i, j) for i in range(n) for j in range(n)
             if include_self or i != j]
    sim = {(i, j): float((labels[i] * labels[j]).sum() > 0)
           for i, j in pairs}
    n_pos = sum(sim.values())
    n_neg = len(pairs) - n_pos
    total = 0.
    for i, j in pairs:
        s = sim[(i, j)]
        d = _direct_distance(codes[i], codes[j], distance, eps, max_cos)
        loss = s * math.log(d / gamma) + math.log(1 + gamma / d)
        if weighting == 'none':
            w = 1.
        elif s:
            w = len(pairs) / max(n_pos, 1)
        else:
            w = len(pairs) / max(n_neg, 1) if weighting == 'paper' else 1.
        total += w * loss
    return total / len(pairs) if reduction == 'mean' else total


def _batch(n=7, k=12, c=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    codes = torch.tanh(2 * torch.randn(n, k, generator=g,
                                       dtype=torch.float64))
    labels = torch.zeros(n, c, dtype=torch.float64)
    for i in range(n):
        labels[i, torch.randint(c, (1 + i % 2, ), generator=g)] = 1.
    return codes, labels


@pytest.mark.parametrize('reduction', ['mean', 'sum'])
@pytest.mark.parametrize('include_self', [False, True])
@pytest.mark.parametrize('weighting', ['paper', 'official', 'none'])
@pytest.mark.parametrize('distance', ['cosine', 'squared_euclidean'])
def test_cauchy_cross_entropy_matches_direct(distance, weighting,
                                             include_self, reduction):
    codes, labels = _batch()
    loss = CauchyCrossEntropyLoss(
        gamma=5., distance=distance, eps=1e-3, pair_weighting=weighting,
        include_self_pairs=include_self, reduction=reduction,
        loss_weight=2.)
    expected = 2. * _direct_cauchy(codes, labels, 5., distance, 1e-3, None,
                                   weighting, include_self, reduction)
    assert float(loss(codes, labels)) == pytest.approx(expected, rel=1e-10)


def test_deephash_pytorch_knobs_match_its_formula():
    """max_cos=0.99, eps=0, self pairs in: DeepHash-pytorch's DCHLoss."""
    codes, labels = _batch(seed=3)
    codes[1] = codes[0]  # a clamped pair
    loss = CauchyCrossEntropyLoss(gamma=20., eps=0., max_cos=0.99,
                                  include_self_pairs=True)
    expected = _direct_cauchy(codes, labels, 20., eps=0., max_cos=0.99,
                              include_self=True)
    assert float(loss(codes, labels)) == pytest.approx(expected, rel=1e-10)


def test_cosine_distance_is_hamming_on_binary_codes():
    g = torch.Generator().manual_seed(1)
    b = torch.randn(6, 16, generator=g).sign()
    hamming = (b[:, None, :] != b[None, :, :]).sum(-1).float()
    torch.testing.assert_close(cauchy_distance(b, eps=0., max_cos=None),
                               hamming, atol=1e-5, rtol=0)
    torch.testing.assert_close(
        cauchy_distance(b, distance='squared_euclidean', eps=0.),
        4 * hamming, atol=1e-4, rtol=0)


def test_weights_balance_similar_and_dissimilar_pairs():
    """Paper weights: both classes of pairs weigh |S| in total."""
    codes, labels = _batch(n=6, seed=4)
    sim = (labels @ labels.t() > 0).double()
    value = cauchy_cross_entropy(codes, sim, 5., reduction='sum')
    # the same loss with the dissimilar pairs' terms set to 0: their
    # weighted sum is what remains
    n = len(codes)
    off = 1 - torch.eye(n, dtype=torch.float64)
    n_pos = float((sim * off).sum())
    n_neg = float(((1 - sim) * off).sum())
    assert 0 < n_pos < n * (n - 1)
    d = cauchy_distance(codes)
    pos = float((sim * off * torch.log1p(d / 5.)).sum())
    neg = float(((1 - sim) * off * torch.log1p(5. / d)).sum())
    expected = n * (n - 1) * (pos / n_pos + neg / n_neg)
    assert float(value) == pytest.approx(expected, rel=1e-10)


def test_one_class_of_pairs_only_weighs_one_per_pair():
    codes, _ = _batch(n=5)
    same = torch.ones(5, 5, dtype=torch.float64)
    for sim in (same, 1 - same + torch.eye(5, dtype=torch.float64)):
        weighted = cauchy_cross_entropy(codes, sim, 5.)
        plain = cauchy_cross_entropy(codes, sim, 5., pair_weighting='none')
        assert float(weighted) == pytest.approx(float(plain), rel=1e-12)


def test_identical_codes_stay_finite_in_float32():
    """d = 0 for equal codes: a dissimilar pair costs log(1 + gamma/eps),
    a similar one log(1 + eps/gamma); gradients are finite (the distance's
    gradient vanishes at its minimum)."""
    row = torch.tanh(torch.randn(1, 16))
    codes = torch.cat([row, row, -row, torch.zeros(1, 16)]).requires_grad_()
    labels = torch.eye(4)[[0, 1, 2, 3]]  # all different classes
    labels[1] = labels[0]  # rows 0 and 1 similar
    for eps in (1e-3, 1e-6):
        loss = CauchyCrossEntropyLoss(gamma=20., eps=eps,
                                      include_self_pairs=True)
        value = loss(codes, labels)
        grad, = torch.autograd.grad(value, codes)
        assert torch.isfinite(value) and torch.isfinite(grad).all()
    # identical codes alone: the exact values (float64: no rounding in d)
    pair = torch.cat([row, row]).double()
    value = cauchy_cross_entropy(pair, torch.eye(2), 20., eps=1e-3)
    assert float(value) == pytest.approx(math.log1p(20. / 1e-3), rel=1e-5)
    value = cauchy_cross_entropy(pair, torch.ones(2, 2), 20., eps=1e-3)
    assert float(value) == pytest.approx(math.log1p(1e-3 / 20.), rel=1e-6)


def test_zero_code_has_cosine_zero():
    codes = torch.zeros(2, 8, requires_grad=True)
    d = cauchy_distance(codes, eps=0., max_cos=None)
    torch.testing.assert_close(d, torch.full((2, 2), 4.))
    value = cauchy_cross_entropy(codes, torch.eye(2), 20.)
    grad, = torch.autograd.grad(value, codes)
    assert torch.isfinite(grad).all()


def test_single_code_has_no_pair():
    codes = torch.randn(1, 8, dtype=torch.float64, requires_grad=True)
    value = cauchy_cross_entropy(codes, torch.ones(1, 1), 20.)
    assert float(value.detach()) == 0.
    value.backward()  # still part of the graph
    with_self = cauchy_cross_entropy(codes, torch.ones(1, 1), 20.,
                                     include_self_pairs=True)
    assert float(with_self.detach()) == pytest.approx(
        math.log1p(1e-3 / 20.), rel=1e-6)


def test_cauchy_gradient_matches_finite_differences():
    codes, labels = _batch(n=5, k=6)
    sim = (labels @ labels.t() > 0).double()
    codes.requires_grad_()
    for kwargs in (dict(), dict(distance='squared_euclidean',
                                pair_weighting='official')):
        assert torch.autograd.gradcheck(
            lambda c: cauchy_cross_entropy(c, sim, 3., **kwargs), (codes, ))


def test_smaller_distance_for_similar_pairs_lowers_the_loss():
    """Direction check: pulling a similar pair together lowers the loss,
    pulling a dissimilar pair together raises it."""
    a = torch.tensor([[1., 1, 1, 1], [1, 1, -1, -1.]])
    b = torch.tensor([[1., 1, 1, 1], [1, 1, 1, -1.]])
    same, diff = torch.ones(2, 2), torch.eye(2)
    assert cauchy_cross_entropy(b, same, 2.) < cauchy_cross_entropy(
        a, same, 2.)
    assert cauchy_cross_entropy(b, diff, 2.) > cauchy_cross_entropy(
        a, diff, 2.)


# ----------------------------------------------------------------------
def _direct_quantization(codes, gamma, max_cos=None, reduction='mean'):
    total = 0.
    for h in codes:
        k = len(h)
        d = _direct_distance([abs(float(x)) for x in h], [1.] * k, 'cosine',
                             0., max_cos)
        total += math.log(1 + d / gamma)
    return total / len(codes) if reduction == 'mean' else total


@pytest.mark.parametrize('reduction', ['mean', 'sum'])
@pytest.mark.parametrize('max_cos', [None, 0.99])
def test_cauchy_quantization_matches_direct(max_cos, reduction):
    codes, _ = _batch(n=6, k=10, seed=2)
    codes[0] = 0.7 * codes[0].sign()  # equal magnitudes: d = 0
    loss = CauchyQuantizationLoss(gamma=4., max_cos=max_cos,
                                  reduction=reduction, loss_weight=0.5)
    expected = 0.5 * _direct_quantization(codes, 4., max_cos, reduction)
    assert float(loss(codes)) == pytest.approx(expected, rel=1e-10)


def test_cauchy_quantization_zero_for_equal_magnitudes():
    codes = torch.tensor([[0.3, -0.3, 0.3], [-1., 1., 1.]])
    assert float(cauchy_quantization(codes)) == pytest.approx(0., abs=1e-6)
    zero = torch.zeros(1, 8, requires_grad=True)
    value = cauchy_quantization(zero, gamma=20.)
    assert float(value.detach()) == pytest.approx(math.log1p(4. / 20.),
                                                  rel=1e-6)
    grad, = torch.autograd.grad(value, zero)
    assert torch.isfinite(grad).all()


def test_cauchy_quantization_gradient_matches_finite_differences():
    codes, _ = _batch(n=4, k=5, seed=5)
    codes.requires_grad_()
    assert torch.autograd.gradcheck(lambda c: cauchy_quantization(c, 3.),
                                    (codes, ))


# ----------------------------------------------------------------------
@pytest.mark.parametrize('kwargs, match', [
    (dict(gamma=0.), 'gamma'),
    (dict(gamma=-1.), 'gamma'),
    (dict(gamma=True), 'gamma'),
    (dict(distance='hamming'), 'distance'),
    (dict(pair_weighting='balanced'), 'pair_weighting'),
    (dict(reduction='none'), 'reduction'),
    (dict(eps=-1e-3), 'eps'),
    (dict(eps=0.), 'eps=0'),
    (dict(max_cos=1.), 'max_cos'),
    (dict(max_cos=0.99, distance='squared_euclidean'), 'max_cos'),
    (dict(include_self_pairs=1), 'include_self_pairs'),
])
def test_cauchy_cross_entropy_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CauchyCrossEntropyLoss(**kwargs)


@pytest.mark.parametrize('kwargs, match', [
    (dict(gamma=0.), 'gamma'),
    (dict(max_cos=-1.), 'max_cos'),
    (dict(reduction='max'), 'reduction'),
])
def test_cauchy_quantization_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CauchyQuantizationLoss(**kwargs)


def test_cauchy_rejects_mismatched_inputs():
    with pytest.raises(ValueError, match='label rows'):
        CauchyCrossEntropyLoss()(torch.randn(4, 8), torch.eye(3))
    with pytest.raises(ValueError, match='similarity'):
        cauchy_cross_entropy(torch.randn(4, 8), torch.eye(3))


# ----------------------------------------------------------------------
# The global batch under DDP: the pair weights count the pairs of all
# ranks, so a 2 x 4 split must give the loss and gradients of 1 x 8.
N, FEAT = 8, 6


def _head(gather=True):
    torch.manual_seed(0)
    return MODELS.build(
        dict(type='HashHead', in_channels=FEAT, num_bits=12, num_classes=5,
             gather_across_ranks=gather,
             losses=dict(
                 pairwise=dict(type='CauchyCrossEntropyLoss', gamma=6.),
                 quant=dict(type='CauchyQuantizationLoss', gamma=6.,
                            loss_weight=0.1))))


def _data():
    g = torch.Generator().manual_seed(1)
    feats = torch.randn(N, FEAT, generator=g)
    # rank 0 holds classes 0-1 only, rank 1 classes 0-4: the local
    # similar/dissimilar counts differ from the global ones.
    labels = [0, 1, 0, 0] + [2, 3, 4, 0]
    return feats, labels


def _loss_and_grads(head, feats, labels):
    samples = [DataSample().set_gt_label(y) for y in labels]
    losses = head.loss(feats, samples)
    total = sum(losses.values())
    total.backward()
    return float(total.detach()), {k: p.grad.clone()
                                  for k, p in head.named_parameters()}


def _worker(rank, port, queue):
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}',
                            rank=rank, world_size=2)
    torch.set_num_threads(1)
    feats, labels = _data()
    half = slice(rank * N // 2, (rank + 1) * N // 2)
    results = {}
    for gather in (True, False):
        loss, grads = _loss_and_grads(_head(gather), feats[half],
                                      labels[half])
        for g in grads.values():  # DDP averages gradients over ranks
            dist.all_reduce(g)
            g /= 2
        results[gather] = (loss, {k: g.numpy() for k, g in grads.items()})
    if rank == 0:
        queue.put(results)
    dist.barrier()
    dist.destroy_process_group()


def test_two_ranks_match_one_process_with_the_whole_batch():
    results, = run_ranks(_worker, num_results=1)
    loss, single = _loss_and_grads(_head(), *_data())
    dist_loss, dist_grads = results[True]
    assert dist_loss == pytest.approx(loss, rel=1e-6)
    for key, grad in single.items():
        torch.testing.assert_close(torch.from_numpy(dist_grads[key]), grad,
                                   rtol=1e-5, atol=1e-7, msg=key)
    # the check can fail: per-rank pairs (no gather) give other gradients
    local = torch.from_numpy(results[False][1]['fc_hash.weight'])
    assert not torch.allclose(local, single['fc_hash.weight'], rtol=1e-3)
