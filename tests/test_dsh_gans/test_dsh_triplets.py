"""Triplet construction: the synthetic positive is generated with the
query's labels, the synthetic negative with labels sharing none of them
(single- and multi-label); the CNN's (eq. 6) and G's (eq. 7) losses match
the blog's formulas computed directly: the adversary and classification
terms the mean over a triplet's three images (eq. 4), G minimising
l_triplet - l_a + l_c."""
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
    model = build_dsh(**_multi_label_kwargs(multi_label))
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


def _spy_streams_and_negatives(model):
    captured = {}
    streams = model._streams

    def spy(inputs):
        captured['out'] = streams(inputs)
        return captured['out']

    model._streams = spy
    negative_labels = model.negative_labels

    def spy_neg(y):
        captured['neg'] = negative_labels(y)
        return captured['neg']

    model.negative_labels = spy_neg
    return captured


def _label_losses(cls, targets, multi_label):
    """Blog eqs. 1-2, per image."""
    if multi_label:
        q = torch.sigmoid(cls)
        return -(targets * torch.log(q) +
                 (1 - targets) * torch.log(1 - q)).sum(1)
    return -torch.log_softmax(cls, 1)[torch.arange(len(cls)),
                                      targets.argmax(1)]


def _multi_label_kwargs(multi_label):
    if not multi_label:
        return {}
    cls = dict(classification=dict(type='MultiHotClassificationLoss',
                                   multi_label=True))
    return dict(multi_label=True, losses=dict(cls),
                generator_losses=dict(cls))


def _labels(multi_label):
    return (_multihot([[0, 1], [1], [2, 3]], 4) if multi_label else
            F.one_hot(torch.tensor([0, 1, 2]), 4).float())


@pytest.mark.parametrize('triplet_images', ['mean', 'sum'])
@pytest.mark.parametrize('multi_label', [False, True])
def test_cnn_losses_match_direct_computation(multi_label, triplet_images):
    kwargs = _multi_label_kwargs(multi_label)
    losses = kwargs.pop('losses', {})
    losses.update(
        triplet=dict(type='TripletHingeLoss', margin=0.4, loss_weight=0.7),
        adversary=dict(type='RealSyntheticLoss', loss_weight=1.3),
        unlabelled_adversary=dict(type='RealSyntheticLoss', loss_weight=0.5))
    losses.setdefault('classification', dict(
        type='MultiHotClassificationLoss'))['loss_weight'] = 0.3
    model = build_dsh(losses=losses, triplet_images=triplet_images,
                      **kwargs)
    labels = _labels(multi_label)
    reals, unlabelled = torch.randn(3, 3, 32, 32), torch.randn(2, 3, 32, 32)
    captured = _spy_streams_and_negatives(model)
    out = model.cnn_losses(reals, labels, unlabelled)
    codes, adv, cls = (t.detach() for t in captured['out'])
    n = 3
    # eq. 4: 1/3 (l_a(x) + l_a(x+) + l_a(x-)), eq. 5: -log P(real | x)
    # for the real query, -log P(synthetic | x) for the fakes
    p = torch.sigmoid(adv)
    per_triplet = -(torch.log(p[:n]) + torch.log(1 - p[n:2 * n]) +
                    torch.log(1 - p[2 * n:3 * n]))
    scale = 1 / 3 if triplet_images == 'mean' else 1.
    torch.testing.assert_close(out['loss_adv'].detach(),
                               1.3 * scale * per_triplet.mean())
    torch.testing.assert_close(out['loss_adv_unlabelled'].detach(),
                               0.5 * -torch.log(p[3 * n:]).mean())
    # eq. 3: max(0, m - |h - h-|^2 + |h - h+|^2)
    h, hp, hn = codes[:n], codes[n:2 * n], codes[2 * n:3 * n]
    hinge = (0.4 + ((h - hp)**2).sum(1) - ((h - hn)**2).sum(1)).clamp(min=0)
    torch.testing.assert_close(out['loss_triplet'].detach(),
                               0.7 * hinge.mean())
    targets = torch.cat([labels, labels, captured['neg']])
    each = _label_losses(cls[:3 * n], targets, multi_label)
    torch.testing.assert_close(out['loss_cls'].detach(),
                               0.3 * scale * each.view(3, n).sum(0).mean())


@pytest.mark.parametrize('multi_label', [False, True])
def test_generator_losses_match_eq7(multi_label):
    """L_G = l_triplet - l_a + l_c over the triplet (l(x) of the real
    query is constant in G and left out)."""
    model = build_dsh(**_multi_label_kwargs(multi_label))
    labels = _labels(multi_label)
    reals = torch.randn(3, 3, 32, 32)
    captured = _spy_streams_and_negatives(model)
    out = model.joint_gen_losses(reals, labels)
    codes, adv, cls = (t.detach() for t in captured['out'])
    n = 3
    h, hp, hn = codes[:n], codes[n:2 * n], codes[2 * n:]
    hinge = (1 + ((h - hp)**2).sum(1) - ((h - hn)**2).sum(1)).clamp(min=0)
    torch.testing.assert_close(out['loss_gen_triplet'].detach(),
                               hinge.mean())
    p = torch.sigmoid(adv[n:])
    l_a = -torch.log(1 - p)  # the fakes' -log P(synthetic | x)
    torch.testing.assert_close(out['loss_gen_adv'].detach(),
                               -(l_a.view(2, n).sum(0) / 3).mean())
    targets = torch.cat([labels, captured['neg']])
    each = _label_losses(cls[n:], targets, multi_label)
    torch.testing.assert_close(out['loss_gen_cls_cnn'].detach(),
                               (each.view(2, n).sum(0) / 3).mean())
    assert set(out) == {'loss_gen_triplet', 'loss_gen_adv',
                        'loss_gen_cls_cnn'}
    # the anchor is a real image: G's triplet gradient flows through the
    # fakes only
    assert out['loss_gen_triplet'].requires_grad
