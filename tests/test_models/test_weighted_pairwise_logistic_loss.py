"""HashNet's weighted pairwise likelihood (WeightedPairwiseLogisticLoss)
against direct re-computations: loops over pairs, the paper's weights, the
DeepHash-pytorch and official normalisations, edge cases, knobs, errors,
and a 2-rank run equal to one process with the whole batch."""
import math

import pytest
import torch
import torch.distributed as dist
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import hashplugins  # noqa: F401
from dist_helpers import run_ranks
from hashplugins.models.losses import (PairwiseLogisticLoss,
                                       WeightedPairwiseLogisticLoss,
                                       weighted_pairwise_logistic_loss)


def _direct(codes, labels, scale, weighted, pos_weight, include_self,
            reduction):
    """Loops over ordered pairs, from HashNet's eqs. 2 and 4."""
    n, bits = codes.shape
    alpha = 10. / bits if scale is None else scale
    pairs = [(i, j) for i in range(n) for j in range(n)
             if include_self or i != j]
    sim = {(i, j): float((labels[i] * labels[j]).sum() > 0)
           for i, j in pairs}
    num_sim = sum(sim.values())
    num_dis = len(pairs) - num_sim
    out = torch.zeros(n, n, dtype=torch.float64)
    total_w = 0.
    for i, j in pairs:
        s = sim[i, j]
        theta = alpha * float(codes[i] @ codes[j])
        nll = math.log1p(math.exp(theta)) - s * theta
        if not weighted:
            w = 1.
        elif pos_weight is not None:
            w = pos_weight if s else 1.
        else:
            w = len(pairs) / num_sim if s else len(pairs) / num_dis
        out[i, j] = w * nll
        total_w += w
    if reduction == 'none':
        return out
    if reduction == 'sum':
        return out.sum()
    return out.sum() / total_w


def _problem(n=7, bits=12, classes=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    codes = torch.tanh(torch.randn(n, bits, generator=g, dtype=torch.float64)
                       * 2)
    labels = (torch.rand(n, classes, generator=g) > 0.6).double()
    labels[0] = 0  # shares nothing: all its pairs are dissimilar
    labels[1, 0] = labels[2, 0] = 1.  # at least one similar pair
    return codes, labels


@pytest.mark.parametrize('reduction', ['mean', 'sum', 'none'])
@pytest.mark.parametrize('include_self', [False, True])
@pytest.mark.parametrize('weighted,pos_weight', [(True, None), (True, 3.5),
                                                 (False, None)])
@pytest.mark.parametrize('scale', [None, 0.3])
def test_matches_direct_loops(scale, weighted, pos_weight, include_self,
                              reduction):
    codes, labels = _problem()
    loss = WeightedPairwiseLogisticLoss(
        scale=scale, weighted=weighted, pos_weight=pos_weight,
        include_self_pairs=include_self, reduction=reduction,
        loss_weight=1.5)
    got = loss(codes, labels)
    want = 1.5 * _direct(codes, labels, scale, weighted, pos_weight,
                         include_self, reduction)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_batch_weights_balance_the_two_groups():
    """|S|/|S1| and |S|/|S0|: similar and dissimilar pairs carry the same
    total weight |S| (the paper's balancing)."""
    codes, labels = _problem(n=9)
    pairs = 9 * 8
    per_pair = weighted_pairwise_logistic_loss(
        codes, (labels @ labels.t() > 0).double(), reduction='none')
    # recover the weights: the loss with every nll = 1 (theta = 0)
    zeros = torch.zeros_like(codes)
    sim = (labels @ labels.t() > 0).double()
    weights = weighted_pairwise_logistic_loss(
        zeros, sim, reduction='none') / math.log(2.)
    off = ~torch.eye(9, dtype=torch.bool)
    assert float(weights[off & (sim > 0)].sum()) == pytest.approx(pairs)
    assert float(weights[off & (sim == 0)].sum()) == pytest.approx(pairs)
    assert float(weights.diagonal().abs().sum()) == 0.
    assert per_pair.shape == (9, 9)


def test_mean_is_half_of_deephash_pytorch():
    """DeepHash-pytorch's HashNetLoss (self pairs in, alpha 0.1) divides
    the batch-weighted sum by |S|: the similar pairs' mean loss plus the
    dissimilar pairs' mean loss, twice our weighted mean."""
    codes, labels = _problem(n=8)
    n = 8
    sim_sum = dis_sum = 0.
    num_sim = num_dis = 0
    for i in range(n):
        for j in range(n):
            s = float((labels[i] * labels[j]).sum() > 0)
            t = 0.1 * float(codes[i] @ codes[j])
            nll = t + math.log1p(math.exp(-t)) - s * t
            if s:
                sim_sum, num_sim = sim_sum + nll, num_sim + 1
            else:
                dis_sum, num_dis = dis_sum + nll, num_dis + 1
    theirs = sim_sum / num_sim + dis_sum / num_dis
    ours = WeightedPairwiseLogisticLoss(scale=0.1, include_self_pairs=True)
    assert 2 * float(ours(codes, labels)) == pytest.approx(theirs,
                                                          rel=1e-12)


def test_fixed_pos_weight_is_the_official_normalisation():
    """The official layer: similar pairs x class_num, divided by
    class_num * |S1| + |S0|."""
    codes, labels = _problem(n=6)
    c = 5.
    num = den = 0.
    for i in range(6):
        for j in range(6):
            if i == j:
                continue
            s = float((labels[i] * labels[j]).sum() > 0)
            t = (10. / 12) * float(codes[i] @ codes[j])
            nll = math.log1p(math.exp(t)) - s * t
            num += nll * (c if s else 1.)
            den += c if s else 1.
    loss = WeightedPairwiseLogisticLoss(pos_weight=c)
    assert float(loss(codes, labels)) == pytest.approx(num / den, rel=1e-12)


def test_unweighted_equals_dpsh_likelihood():
    codes, labels = _problem()
    for include_self in (True, False):
        ours = WeightedPairwiseLogisticLoss(
            scale=0.5, weighted=False, include_self_pairs=include_self)
        dpsh = PairwiseLogisticLoss(scale=0.5,
                                    include_self_pairs=include_self)
        torch.testing.assert_close(ours(codes, labels), dpsh(codes, labels),
                                   rtol=1e-12, atol=0.)


def test_one_group_only_is_the_plain_mean():
    """All pairs similar (one class) or all dissimilar (distinct classes):
    each weight is |S|/|S| = 1."""
    codes, _ = _problem(n=5)
    same = torch.ones(5, 1, dtype=torch.float64)
    distinct = torch.eye(5, dtype=torch.float64)
    for labels in (same, distinct):
        weighted = WeightedPairwiseLogisticLoss()(codes, labels)
        plain = WeightedPairwiseLogisticLoss(weighted=False)(codes, labels)
        torch.testing.assert_close(weighted, plain, rtol=1e-12, atol=0.)
        assert torch.isfinite(weighted)


def test_single_image_without_self_pairs_is_zero():
    codes = torch.randn(1, 8, dtype=torch.float64, requires_grad=True)
    labels = torch.ones(1, 2, dtype=torch.float64)
    for kwargs in (dict(), dict(pos_weight=2.), dict(weighted=False)):
        value = WeightedPairwiseLogisticLoss(**kwargs)(codes, labels)
        assert value.item() == 0.
        grad, = torch.autograd.grad(value, codes)
        assert torch.equal(grad, torch.zeros_like(grad))


def test_stable_for_large_products():
    """Saturated codes and a large alpha: softplus stays finite and exact
    (the official code switches to a linear branch above 15)."""
    codes = torch.cat([torch.ones(2, 64), -torch.ones(2, 64)]).double()
    codes.requires_grad_()
    labels = torch.tensor([[1., 0], [1, 0], [0, 1], [0, 1]]).double()
    value = WeightedPairwiseLogisticLoss(scale=5.)(codes, labels)
    grad, = torch.autograd.grad(value, codes)
    assert torch.isfinite(value) and torch.isfinite(grad).all()
    # similar pairs: theta = 320, loss ~ e^-320; dissimilar: theta = -320
    assert value.item() == pytest.approx(0., abs=1e-100)


def test_gradient_matches_the_analytic_form():
    """dL/dh_i = sum_j w_ij alpha (sigma(theta_ij) - s_ij)(h_j) + the
    symmetric term, over the weighted mean's denominator (no custom
    backward: this checks the weights carry no gradient)."""
    codes, labels = _problem(n=6, bits=5)
    codes.requires_grad_()
    alpha = 0.7
    loss = WeightedPairwiseLogisticLoss(scale=alpha)
    grad, = torch.autograd.grad(loss(codes, labels), codes)
    n = 6
    sim = (labels @ labels.t() > 0).double()
    off = 1 - torch.eye(n, dtype=torch.float64)
    num_sim = float((sim * off).sum())
    num_all = n * (n - 1)
    w = off * (sim * num_all / num_sim + (1 - sim) * num_all /
               (num_all - num_sim))
    h = codes.detach()
    expected = torch.zeros_like(h)
    for i in range(n):
        for j in range(n):
            sig = 1 / (1 + math.exp(-alpha * float(h[i] @ h[j])))
            g = float(w[i, j]) * alpha * (sig - float(sim[i, j]))
            expected[i] += g * h[j]
            expected[j] += g * h[i]
    expected /= float(w.sum())
    torch.testing.assert_close(grad, expected, rtol=1e-10, atol=1e-12)


def test_reduction_override_and_avg_factor():
    codes, labels = _problem()
    loss = WeightedPairwiseLogisticLoss()
    total = loss(codes, labels, reduction_override='sum')
    torch.testing.assert_close(loss(codes, labels, avg_factor=10.),
                               total / 10.)
    assert loss(codes, labels, reduction_override='none').shape == (7, 7)


@pytest.mark.parametrize('kwargs,match', [
    (dict(scale=0.), 'scale must be None'),
    (dict(scale=-1.), 'scale must be None'),
    (dict(scale='auto'), 'scale must be None'),
    (dict(scale=True), 'scale must be None'),
    (dict(weighted='yes'), 'weighted must be True or False'),
    (dict(pos_weight=0.), 'pos_weight must be None'),
    (dict(pos_weight=float('inf')), 'pos_weight must be None'),
    (dict(pos_weight=2., weighted=False), 'pos_weight=2.0 needs weighted'),
    (dict(include_self_pairs=1), 'include_self_pairs must be True'),
    (dict(reduction='avg'), 'reduction must be one of'),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MODELS.build(dict(type='WeightedPairwiseLogisticLoss', **kwargs))
    codes, labels = _problem()
    sim = (labels @ labels.t() > 0).double()
    with pytest.raises(ValueError, match=match):
        weighted_pairwise_logistic_loss(codes, sim, **kwargs)


# ----------------------------------------------------------------------
# The pairs cross ranks: HashHead gathers the global batch first.
N, FEAT = 8, 6


def _head():
    torch.manual_seed(0)
    return MODELS.build(
        dict(type='HashHead', in_channels=FEAT, num_bits=12, num_classes=5,
             scale=1.7,
             losses=dict(pairwise=dict(type='WeightedPairwiseLogisticLoss'),
                         fixed=dict(type='WeightedPairwiseLogisticLoss',
                                    pos_weight=4., include_self_pairs=True,
                                    scale=0.4))))


def _data():
    g = torch.Generator().manual_seed(3)
    feats = torch.randn(N, FEAT, generator=g)
    # similar pairs inside each half and across the halves
    labels = [0, 1, 2, 0, 1, 3, 4, 0]
    return feats, labels


def _losses_and_grads(head, feats, labels):
    samples = [DataSample().set_gt_label(y) for y in labels]
    losses = head.loss(feats, samples)
    sum(losses.values()).backward()
    values = {k: v.item() for k, v in losses.items()}
    return values, {k: p.grad.clone() for k, p in head.named_parameters()}


def _worker(rank, port, queue):
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}',
                            rank=rank, world_size=2)
    torch.set_num_threads(1)
    head = _head()
    feats, labels = _data()
    half = slice(rank * N // 2, (rank + 1) * N // 2)
    values, grads = _losses_and_grads(head, feats[half], labels[half])
    for g in grads.values():  # DDP averages gradients over ranks
        dist.all_reduce(g)
        g /= 2
    queue.put((rank, values, {k: g.numpy() for k, g in grads.items()}))
    dist.barrier()
    dist.destroy_process_group()


def test_two_ranks_of_four_match_one_process_of_eight():
    results = run_ranks(_worker, num_results=2)
    values, grads = _losses_and_grads(_head(), *_data())
    for rank, rank_values, rank_grads in results:
        for key, value in values.items():  # the global batch's loss
            assert rank_values[key] == pytest.approx(value, rel=1e-6), key
        for key, grad in grads.items():
            torch.testing.assert_close(torch.from_numpy(rank_grads[key]),
                                       grad, rtol=1e-5, atol=1e-7, msg=key)
