"""Triplet construction: the synthetic positive is generated with the
query's labels, the synthetic negative with labels sharing none of them
(single- and multi-label); the adversary loss sums over the triplet's
three images; the triplet/classification terms match direct formulas."""
import pytest
import torch
import torch.nn.functional as F

from dsh_helpers import build_dsh
from hashplugins.models.hashers.dsh_gans import disjoint_labels

torch.set_num_threads(1)


def _multihot(rows, width):
    out = torch.zeros(len(rows), width)
    for i, row in enumerate(rows):
        out[i, row] = 1.
    return out


def test_disjoint_labels_single_label_covers_every_other_class():
    labels = F.one_hot(torch.tensor([0, 1, 2, 3] * 50), 4).float()
    rng = torch.Generator().manual_seed(0)
    neg = disjoint_labels(labels, generator=rng)
    assert torch.equal(neg.sum(1), torch.ones(200))  # one class each
    assert (labels * neg).sum() == 0
    for c in range(4):  # uniform over the 3 other classes: all drawn
        drawn = set(neg[labels[:, c] == 1].argmax(1).tolist())
        assert drawn == set(range(4)) - {c}


def test_disjoint_labels_multi_label_uses_disjoint_bank_rows():
    labels = _multihot([[0, 1], [1, 2], [0, 1, 2]], 5)
    bank = _multihot([[0, 1], [1, 2], [3, 4], [2, 3]], 5)
    rng = torch.Generator().manual_seed(0)
    for _ in range(20):
        neg = disjoint_labels(labels, bank, generator=rng)
        assert (labels * neg).sum() == 0
        # rows 0 and 1 have disjoint bank rows: a real label set is used
        assert neg[0].tolist() in (bank[2].tolist(), bank[3].tolist())
        assert neg[1].tolist() == bank[2].tolist()
        # row 2 ({0, 1, 2}): only {3, 4} is disjoint
        assert neg[2].tolist() == bank[2].tolist()
    # no disjoint bank row at all: one class from the complement
    neg = disjoint_labels(_multihot([[0, 1, 2, 3]], 5), bank[:2])
    assert neg.tolist() == [[0., 0., 0., 0., 1.]]
    with pytest.raises(ValueError, match='every class'):
        disjoint_labels(torch.ones(1, 5))


@pytest.mark.parametrize('multi_label', [False, True])
def test_triplet_fakes_are_generated_with_the_right_labels(multi_label):
    model = build_dsh(multi_label=multi_label)
    if multi_label:
        labels = _multihot([[0, 1], [1], [2, 3], [3], [0]], 4)
    else:
        labels = F.one_hot(torch.tensor([0, 1, 2, 3, 1]), 4).float()
    seen = {}
    generator_forward = model.generator.forward

    def spy(noise, cond):
        seen['labels'] = cond.clone()
        return generator_forward(noise, cond)

    model.generator.forward = spy
    fakes, negatives = model.make_triplet_fakes(labels)
    n = len(labels)
    assert fakes.shape == (2 * n, 3, 32, 32)
    assert torch.equal(seen['labels'][:n], labels)  # positives: y
    assert torch.equal(seen['labels'][n:], negatives)  # negatives: y-
    assert (labels * negatives).sum() == 0  # no shared label
    assert bool((negatives.sum(1) > 0).all())
    if multi_label:  # drawn from the batch's real label sets
        rows = {tuple(r) for r in labels.tolist()}
        assert all(tuple(r) in rows for r in negatives.tolist())


@pytest.mark.parametrize('multi_label', [False, True])
def test_cnn_losses_match_direct_computation(multi_label):
    weights = dict(triplet=0.7, cls=0.3, adv=1.3, unlabelled_adv=0.5)
    model = build_dsh(multi_label=multi_label, margin=0.4,
                      loss_weights=weights)
    labels = (_multihot([[0, 1], [1], [2, 3]], 4) if multi_label else
              F.one_hot(torch.tensor([0, 1, 2]), 4).float())
    reals, unlabelled = torch.randn(3, 3, 32, 32), torch.randn(2, 3, 32, 32)
    captured = {}
    streams = model._streams

    def spy(inputs):
        captured['out'] = streams(inputs)
        return captured['out']

    model._streams = spy
    negs = {}
    negative_labels = model.negative_labels

    def spy_neg(y):
        negs['y'] = negative_labels(y)
        return negs['y']

    model.negative_labels = spy_neg
    losses = model.cnn_losses(reals, labels, unlabelled)
    codes, adv, cls = (t.detach() for t in captured['out'])
    n = 3
    # adversary: -log a(x) - log(1 - a(x+)) - log(1 - a(x-)) per triplet
    p = torch.sigmoid(adv)
    per_triplet = -(torch.log(p[:n]) + torch.log(1 - p[n:2 * n]) +
                    torch.log(1 - p[2 * n:3 * n]))
    torch.testing.assert_close(losses['loss_adv'].detach(),
                               1.3 * per_triplet.mean())
    torch.testing.assert_close(losses['loss_adv_unlabelled'].detach(),
                               0.5 * -torch.log(p[3 * n:]).mean())
    h, hp, hn = codes[:n], codes[n:2 * n], codes[2 * n:3 * n]
    hinge = (0.4 + ((h - hp)**2).sum(1) - ((h - hn)**2).sum(1)).clamp(min=0)
    torch.testing.assert_close(losses['loss_triplet'].detach(),
                               0.7 * hinge.mean())
    targets = torch.cat([labels, labels, negs['y']])
    if multi_label:
        q = torch.sigmoid(cls[:3 * n])
        each = -(targets * torch.log(q) +
                 (1 - targets) * torch.log(1 - q)).sum(1)
    else:
        each = -torch.log_softmax(cls[:3 * n], 1)[
            torch.arange(3 * n), targets.argmax(1)]
    torch.testing.assert_close(losses['loss_cls'].detach(),
                               0.3 * each.view(3, n).sum(0).mean())
