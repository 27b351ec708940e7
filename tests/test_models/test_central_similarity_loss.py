"""CSQ: hash centres (Hadamard rows, seeded random rows, their distances),
the centre of a sample (single- and multi-label, ties), the loss against a
direct bit-by-bit re-computation, its independence of the batch, saturated
codes, centres identical across builds and kept through checkpoints, and
bad arguments."""
import io
import math
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmpretrain.registry import MODELS

import hashplugins  # noqa: F401
from hashplugins.models.losses import (CentralSimilarityLoss,
                                       central_similarity_loss,
                                       hadamard_matrix, make_hash_centers,
                                       quantization_loss)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _hamming(a, b):
    return sum(int(x != y) for x, y in zip(a.tolist(), b.tolist()))


def _all_pairs(centers):
    return [_hamming(centers[i], centers[j]) for i in range(len(centers))
            for j in range(i + 1, len(centers))]


@pytest.mark.parametrize('order', [1, 2, 4, 8, 16, 64])
def test_hadamard_matrix_is_sylvester_and_scipys(order):
    h = hadamard_matrix(order)
    torch.testing.assert_close(h @ h.t(), order * torch.eye(order))
    scipy_linalg = pytest.importorskip('scipy.linalg')
    assert torch.equal(h, torch.from_numpy(
        scipy_linalg.hadamard(order)).float())


@pytest.mark.parametrize('bits', [8, 16, 32, 64])
def test_hadamard_centres_are_at_least_half_the_bits_apart(bits):
    centers = make_hash_centers(2 * bits, bits, mode='hadamard')
    assert set(centers.unique().tolist()) == {-1., 1.}
    distances = _all_pairs(centers)
    assert min(distances) >= bits / 2
    # rows of H differ in K/2 bits; a row and its negation in all K
    assert set(distances) == {bits // 2, bits}
    h = hadamard_matrix(bits)
    assert torch.equal(centers, torch.cat([h, -h]))


def test_auto_picks_hadamard_only_where_it_applies():
    assert torch.equal(make_hash_centers(10, 16),
                       make_hash_centers(10, 16, mode='hadamard'))
    # K not a power of two, or more than 2K classes: random (paper)
    for classes, bits in ((10, 12), (40, 16)):
        assert torch.equal(
            make_hash_centers(classes, bits, seed=3),
            make_hash_centers(classes, bits, mode='random', seed=3))


def test_hadamard_then_random_keeps_the_hadamard_rows():
    centers = make_hash_centers(40, 16, mode='hadamard_then_random', seed=1)
    h = hadamard_matrix(16)
    assert torch.equal(centers[:32], torch.cat([h, -h]))
    assert min(_all_pairs(centers)) >= 1


def test_random_centres_are_seeded_and_leave_the_global_rng_alone():
    state = torch.get_rng_state()
    a = make_hash_centers(20, 48, seed=5)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(a, make_hash_centers(20, 48, seed=5))
    assert not torch.equal(a, make_hash_centers(20, 48, seed=6))


def test_random_bits_bernoulli_and_balanced():
    bern = make_hash_centers(200, 48, mode='random', seed=0)
    assert set(bern.unique().tolist()) == {-1., 1.}
    share = float((bern > 0).float().mean())
    assert abs(share - 0.5) < 0.02  # 9,600 fair bits: 4 sigma ~ 0.02
    counts = (bern < 0).sum(1)
    assert len(counts.unique()) > 3  # rows are not balanced
    bal = make_hash_centers(50, 13, mode='random', random_bits='balanced')
    assert ((bal < 0).sum(1) == 13 // 2).all()


def test_random_centres_meet_the_distance_requirements():
    centers = make_hash_centers(100, 64, mode='random',
                                random_bits='balanced', min_distance=20,
                                min_mean_distance=32, max_draws=1000)
    distances = _all_pairs(centers)
    assert min(distances) >= 20 and sum(distances) / len(distances) >= 32


def test_impossible_distance_requirement_raises():
    # 4 centres of 4 bits all 4 apart would need 4 pairwise complements
    with pytest.raises(ValueError, match='min_distance=4'):
        make_hash_centers(4, 4, mode='random', min_distance=4, max_draws=50)
    with pytest.raises(ValueError, match='min_distance=9'):
        make_hash_centers(4, 16, mode='hadamard', min_distance=9)


@pytest.mark.parametrize('kwargs, match', [
    (dict(num_classes=0, num_bits=8), 'num_classes'),
    (dict(num_classes=3, num_bits=8.), 'num_bits'),
    (dict(num_classes=3, num_bits=8, mode='orthogonal'), 'mode'),
    (dict(num_classes=3, num_bits=8, random_bits='uniform'), 'random_bits'),
    (dict(num_classes=3, num_bits=8, seed='0'), 'seed'),
    (dict(num_classes=3, num_bits=8, min_distance=-1), 'min_distance'),
    (dict(num_classes=3, num_bits=8, min_mean_distance='a'),
     'min_mean_distance'),
    (dict(num_classes=3, num_bits=8, max_draws=0), 'max_draws'),
    (dict(num_classes=3, num_bits=12, mode='hadamard'), 'power of two'),
    (dict(num_classes=3, num_bits=12, mode='hadamard_then_random'),
     'power of two'),
    (dict(num_classes=17, num_bits=8, mode='hadamard'), 'num_classes=17'),
])
def test_make_hash_centers_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_hash_centers(**kwargs)


def test_hadamard_matrix_rejects_other_orders():
    for order in (0, 3, 12, 2.):
        with pytest.raises(ValueError, match='power of two'):
            hadamard_matrix(order)


# ----------------------------------------------------------------------
def _direct_center(loss, label_row):
    """Mean of the labels' centres, binarised; 0 -> the tie vector."""
    picked = [loss.centers[c] for c in range(len(label_row))
              if label_row[c] > 0]
    out = []
    for k in range(loss.num_bits):
        mean = sum(float(p[k]) for p in picked) / len(picked)
        out.append(1. if mean > 0 else
                   -1. if mean < 0 else float(loss.tie_break[k]))
    return out


def _direct_loss(codes, centers):
    total, count = 0., 0
    for h_row, c_row in zip(codes.tolist(), centers):
        for h, c in zip(h_row, c_row):
            p, t = (1 + h) / 2, (1 + c) / 2
            # torch.nn.BCELoss floors each log at -100
            log_p = max(math.log(p), -100.) if p > 0 else -100.
            log_q = max(math.log(1 - p), -100.) if p < 1 else -100.
            total -= t * log_p + (1 - t) * log_q
            count += 1
    return total / count


def _multihot(rows, width):
    labels = torch.zeros(len(rows), width)
    for i, row in enumerate(rows):
        labels[i, row] = 1.
    return labels


@pytest.mark.parametrize('classes, bits', [(10, 16), (10, 12), (5, 8)])
def test_loss_matches_direct_single_and_multi_label(classes, bits):
    loss = CentralSimilarityLoss(classes, bits, loss_weight=3.)
    g = torch.Generator().manual_seed(0)
    codes = torch.tanh(2 * torch.randn(6, bits, generator=g,
                                       dtype=torch.float64))
    labels = _multihot([[0], [3], [1, 2], [0, 1, 4], [4], [2, 3]], classes)
    centers = [_direct_center(loss, row.tolist()) for row in labels]
    assert torch.equal(loss.sample_centers(labels),
                       torch.tensor(centers))
    expected = 3. * _direct_loss(codes, centers)
    assert float(loss(codes, labels.double())) == pytest.approx(
        expected, rel=1e-10)


def test_single_label_centre_is_the_class_centre():
    loss = CentralSimilarityLoss(10, 16)
    labels = torch.eye(10)
    assert torch.equal(loss.sample_centers(labels), loss.centers)


def test_tied_bits_take_the_tie_vector():
    loss = CentralSimilarityLoss(4, 8, seed=2)
    # Hadamard rows 0 and 1 differ in 4 of 8 bits: those 4 tie
    both = loss.sample_centers(_multihot([[0, 1]], 4))[0]
    c0, c1 = loss.centers[0], loss.centers[1]
    tied = c0 != c1
    assert int(tied.sum()) == 4
    assert torch.equal(both[tied], loss.tie_break[tied])
    assert torch.equal(both[~tied], c0[~tied])


def test_loss_does_not_depend_on_the_batch():
    loss = CentralSimilarityLoss(10, 16)
    g = torch.Generator().manual_seed(4)
    codes = torch.tanh(torch.randn(9, 16, generator=g))
    labels = _multihot([[i % 10] for i in range(8)] + [[1, 7]], 10)
    whole = loss(codes, labels)
    each = torch.stack([loss(codes[i:i + 1], labels[i:i + 1])
                        for i in range(9)])
    torch.testing.assert_close(whole, each.mean())
    # a sample's loss stays the same whoever its batch-mates are
    perm = torch.randperm(9, generator=g)
    torch.testing.assert_close(loss(codes[perm], labels[perm]), whole)
    part = loss(codes[:4], labels[:4]) * 4 + loss(codes[4:], labels[4:]) * 5
    torch.testing.assert_close(part / 9, whole)


def test_gradient_is_the_bce_derivative():
    loss = CentralSimilarityLoss(4, 8)
    g = torch.Generator().manual_seed(1)
    codes = torch.tanh(torch.randn(3, 8, generator=g, dtype=torch.float64))
    codes.requires_grad_()
    labels = _multihot([[0], [1, 3], [2]], 4).double()
    loss(codes, labels).backward()
    h = codes.detach()
    t = (1 + loss.sample_centers(labels).double()) / 2
    p = (1 + h) / 2
    # d/dh of -[t log p + (1 - t) log(1 - p)] / (N K), dp/dh = 1/2
    expected = -(t / p - (1 - t) / (1 - p)) * 0.5 / h.numel()
    torch.testing.assert_close(codes.grad, expected)
    assert torch.autograd.gradcheck(
        lambda c: central_similarity_loss(
            c, loss.sample_centers(labels).double()), (codes, ))


def test_saturated_codes_stay_finite():
    """tanh outputs of exactly +-1 (a saturated float32 hash layer): a bit
    on the wrong side costs 100 (BCELoss's log floor), and the gradient is
    finite."""
    loss = CentralSimilarityLoss(2, 4)
    codes = loss.centers[[0]].clone()
    codes[0, 0] *= -1  # one bit saturated on the wrong side
    codes.requires_grad_()
    value = loss(codes, torch.tensor([[1., 0.]]))
    grad, = torch.autograd.grad(value, codes)
    assert float(value.detach()) == pytest.approx(100. / 4, rel=1e-6)
    assert torch.isfinite(grad).all()


def test_equals_bce_of_the_public_codes_away_from_saturation():
    g = torch.Generator().manual_seed(6)
    codes = torch.tanh(torch.randn(5, 16, generator=g))
    centers = torch.randn(5, 16, generator=g).sign()
    bce = torch.nn.BCELoss()(0.5 * (codes + 1), 0.5 * (centers + 1))
    torch.testing.assert_close(central_similarity_loss(codes, centers), bce)


def test_near_saturation_keeps_float32_precision():
    """h = 1 - 2^-24 with centre -1: -log((1 - h)/2) = 25 log 2, where
    BCELoss on p = (1 + h)/2 (rounded to 1) would say 100."""
    h = torch.tensor([[1 - 2.**-24]])
    value = central_similarity_loss(h, torch.tensor([[-1.]]))
    assert float(value) == pytest.approx(25 * math.log(2.), rel=1e-6)


def test_quantization_term_of_the_configs_is_the_authors():
    """The configs add HashQuantizationLoss(mode='l2'):
    mean (|h| - 1)^2, the authors' and DeepHash-pytorch's Q_loss."""
    g = torch.Generator().manual_seed(2)
    codes = torch.tanh(torch.randn(5, 8, generator=g, dtype=torch.float64))
    expected = ((codes.abs() - 1)**2).mean()
    assert float(quantization_loss(codes, 'l2')) == pytest.approx(
        float(expected), rel=1e-12)


# ----------------------------------------------------------------------
def test_independent_builds_share_their_centres():
    """What every DDP rank does: build the loss from the same config."""
    for kwargs in (dict(num_classes=10, num_bits=16),
                   dict(num_classes=100, num_bits=48, seed=7)):
        a, b = CentralSimilarityLoss(**kwargs), CentralSimilarityLoss(
            **kwargs)
        assert torch.equal(a.centers, b.centers)
        assert torch.equal(a.tie_break, b.tie_break)


def test_checkpoint_round_trip_keeps_the_centres():
    saved = CentralSimilarityLoss(30, 48, seed=0)
    buffer = io.BytesIO()
    torch.save(saved.state_dict(), buffer)
    buffer.seek(0)
    other = CentralSimilarityLoss(30, 48, seed=1)
    assert not torch.equal(other.centers, saved.centers)
    other.load_state_dict(torch.load(buffer, weights_only=True))
    assert torch.equal(other.centers, saved.centers)
    assert torch.equal(other.tie_break, saved.tie_break)


def test_model_checkpoint_carries_the_centres():
    cfg = Config.fromfile(
        osp.join(REPO, 'configs/csq/csq_lenet5_mnist5k_16bit.py'))
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(cfg.model)
        key = 'head.losses.center.centers'
        state = model.state_dict()
        assert key in state and 'head.losses.center.tie_break' in state
        buffer = io.BytesIO()
        torch.save(state, buffer)
        buffer.seek(0)
        cfg.model.head.losses.center.seed = 1
        cfg.model.head.losses.center.center_mode = 'random'
        fresh = MODELS.build(cfg.model)
        assert not torch.equal(fresh.state_dict()[key], state[key])
        fresh.load_state_dict(torch.load(buffer, weights_only=True))
        assert torch.equal(fresh.state_dict()[key], state[key])


# ----------------------------------------------------------------------
def test_loss_rejects_mismatched_inputs():
    loss = CentralSimilarityLoss(10, 16)
    codes = torch.tanh(torch.randn(3, 16))
    with pytest.raises(ValueError, match='num_bits=16'):
        loss(torch.tanh(torch.randn(3, 12)), torch.eye(10)[:3])
    with pytest.raises(ValueError, match='num_classes=10'):
        loss(codes, torch.eye(9)[:3])
    with pytest.raises(ValueError, match='label rows'):
        loss(codes, torch.eye(10)[:2])
    with pytest.raises(ValueError, match='no label'):
        loss(codes, torch.zeros(3, 10))
    with pytest.raises(ValueError, match=r'\[-1, 1\]'):
        loss(codes * 3, torch.eye(10)[:3])
    with pytest.raises(ValueError, match='mode'):
        CentralSimilarityLoss(10, 16, center_mode='hadamard2')
