"""The registered losses DSH-GANs is composed of, each against a direct
re-computation of its formula (blog eqs. 1-5), and the BatchNorm context
of its generator step."""
import pytest
import torch
import torch.nn as nn
from mmpretrain.registry import MODELS

import hashplugins  # noqa: F401
from hashplugins.models.losses import sample_batch_triplets
from hashplugins.models.utils import frozen_batch_norm_statistics

torch.set_num_threads(1)


def _codes(n, k=6, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(n, k, generator=gen, dtype=torch.float64)


def test_triplet_hinge_is_eq3_with_mmpretrain_reductions():
    a, p, n = _codes(5, seed=0), _codes(5, seed=1), _codes(5, seed=2)
    direct = torch.tensor([
        max(0., 1. - float(((a[i] - n[i])**2).sum()) +
            float(((a[i] - p[i])**2).sum())) for i in range(5)
    ], dtype=torch.float64)
    loss = MODELS.build(dict(type='TripletHingeLoss', loss_weight=2.))
    torch.testing.assert_close(loss(a, p, n), 2 * direct.mean())
    torch.testing.assert_close(loss(a, p, n, reduction_override='sum'),
                               2 * direct.sum())
    torch.testing.assert_close(loss(a, p, n, avg_factor=10),
                               2 * direct.sum() / 10)
    weight = torch.tensor([1., 0., 1., 0., 1.], dtype=torch.float64)
    torch.testing.assert_close(loss(a, p, n, weight=weight,
                                    reduction_override='none'),
                               2 * direct * weight)
    # margin: a knob
    wide = MODELS.build(dict(type='TripletHingeLoss', margin=3.))
    assert float(wide(a, p, n)) > float(direct.mean())


def test_real_synthetic_loss_is_eq5_and_its_generator_forms():
    logits = torch.tensor([2., -1., 0.5, -3.], dtype=torch.float64)
    is_real = torch.tensor([1., 0., 0., 1.], dtype=torch.float64)
    p_real = torch.sigmoid(logits)
    each = torch.where(is_real.bool(), -torch.log(p_real),
                       -torch.log(1 - p_real))
    loss = MODELS.build(dict(type='RealSyntheticLoss'))
    torch.testing.assert_close(loss(logits, is_real), each.mean())
    torch.testing.assert_close(loss(logits, is_real, avg_factor=3),
                               each.sum() / 3)
    # G's minimax form: -l_a
    minimax = MODELS.build(dict(type='RealSyntheticLoss', loss_weight=-1.))
    torch.testing.assert_close(minimax(logits, is_real), -each.mean())
    # G's non-saturating form: the flipped targets' -log P(real | fake)
    flipped = MODELS.build(dict(type='RealSyntheticLoss', flip_targets=True))
    fakes = torch.zeros(4, dtype=torch.float64)
    torch.testing.assert_close(flipped(logits, fakes),
                               -torch.log(p_real).mean())


@pytest.mark.parametrize('multi_label', [False, True])
def test_multi_hot_classification_is_eqs_1_and_2(multi_label):
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 5, generator=gen, dtype=torch.float64)
    if multi_label:
        labels = torch.tensor([[1, 1, 0, 0, 0], [0, 1, 0, 0, 0],
                               [0, 0, 1, 1, 1], [1, 0, 0, 0, 1]],
                              dtype=torch.float64)
        q = torch.sigmoid(logits)
        each = -(labels * torch.log(q) + (1 - labels) *
                 torch.log(1 - q)).sum(1)  # summed over classes (eq. 2)
    else:
        targets = torch.tensor([0, 3, 1, 4])
        labels = torch.eye(5, dtype=torch.float64)[targets]
        each = -torch.log_softmax(logits, 1)[torch.arange(4), targets]
    loss = MODELS.build(dict(type='MultiHotClassificationLoss',
                             multi_label=multi_label, loss_weight=0.5))
    torch.testing.assert_close(loss(logits, labels), 0.5 * each.mean())
    torch.testing.assert_close(loss(logits, labels, avg_factor=12),
                               0.5 * each.sum() / 12)


def test_sampled_triplets_are_valid_and_uniform():
    labels = torch.eye(3)[torch.tensor([0, 0, 1, 1, 1, 2])]
    counts = torch.zeros(6, 6)
    torch.manual_seed(0)
    for _ in range(300):
        pos, neg, valid = sample_batch_triplets(labels)
        # anchor 5 (class 2) has no positive in the batch
        assert valid.tolist() == [True] * 5 + [False]
        for i in range(5):
            assert labels[pos[i]] @ labels[i] > 0 and pos[i] != i
            assert labels[neg[i]] @ labels[i] == 0
        counts[torch.arange(6), neg] += 1
    # anchor 0's negatives {2, 3, 4, 5} all drawn, about equally
    assert (counts[0, 2:] > 50).all() and counts[0, :2].sum() == 0


def test_sampled_triplet_loss_is_the_mean_hinge_over_valid_anchors():
    labels = torch.eye(3)[torch.tensor([0, 0, 1, 1, 1, 2])]
    codes = _codes(6)
    torch.manual_seed(3)
    pos, neg, valid = sample_batch_triplets(labels)
    direct = sum(
        max(0., 0.5 + float(((codes[i] - codes[pos[i]])**2).sum()) -
            float(((codes[i] - codes[neg[i]])**2).sum()))
        for i in range(6) if valid[i]) / int(valid.sum())
    loss = MODELS.build(dict(type='SampledTripletLoss', margin=0.5))
    torch.manual_seed(3)  # the same draws
    assert float(loss(codes, labels)) == pytest.approx(direct)
    # no valid anchor: 0, still connected to the codes
    codes.requires_grad_(True)
    zero = loss(codes, torch.eye(6))
    assert float(zero.detach()) == 0 and zero.requires_grad


def test_frozen_batch_norm_statistics():
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4)).train()
    bn = net[1]
    x = torch.randn(8, 3) * 5 + 2
    before = [b.clone() for b in bn.buffers()]
    with frozen_batch_norm_statistics(net):
        out = net(x)
    assert all(torch.equal(a, b) for a, b in zip(before, bn.buffers()))
    # still normalized with the batch's own statistics
    torch.testing.assert_close(out.mean(0), torch.zeros(4), atol=1e-5,
                               rtol=0)
    assert bn.track_running_stats
    net(x)
    assert not torch.equal(before[0], bn.running_mean)
    # restored after an error too
    with pytest.raises(RuntimeError):
        with frozen_batch_norm_statistics(net):
            raise RuntimeError('boom')
    assert bn.track_running_stats
