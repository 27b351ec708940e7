"""The all-triplet ranking loss in O(N^2) memory equals the direct sum over
every (anchor, positive, negative) triplet: values and gradients, ties,
degenerate batches, half precision, and the gathered global batch of 2
gloo ranks."""
import time

import pytest
import torch
import torch.distributed as dist
import torch.nn.functional as F
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import hashplugins  # noqa: F401
from dist_helpers import run_ranks
from triplet_reference import direct_triplet_ranking_loss as _direct
from hashplugins.models.losses import TripletRankingLoss, triplet_ranking_loss
from hashplugins.models.utils import label_similarity

TOL = {torch.float64: dict(rtol=1e-10, atol=1e-12),
       torch.float32: dict(rtol=1e-5, atol=1e-6)}


def _value_and_grad(fn, codes, labels, margin):
    codes = codes.detach().requires_grad_()
    value = fn(codes, labels, margin)
    grad, = torch.autograd.grad(value, codes)
    return value.detach(), grad


def _assert_same(codes, labels, margin, **kwargs):
    value, grad = _value_and_grad(
        lambda c, y, m: triplet_ranking_loss(c, y, m, **kwargs), codes,
        labels, margin)
    ref_value, ref_grad = _value_and_grad(_direct, codes, labels, margin)
    tol = TOL[codes.dtype]
    assert value.dtype == codes.dtype
    torch.testing.assert_close(value, ref_value, **tol)
    # atol relative to the gradient's scale (it shrinks with 1/|T|).
    scale = ref_grad.abs().max().clamp(min=1e-30)
    torch.testing.assert_close(grad, ref_grad, rtol=tol['rtol'],
                               atol=tol['atol'] * scale)


def _codes(num, bits, kind, dtype, gen):
    pre = 2 * torch.randn(num, bits, generator=gen, dtype=torch.float64)
    codes = torch.tanh(pre) if kind == 'tanh' else torch.sigmoid(pre)
    # Duplicate codes: exact distance ties, within a class (0, 1) and
    # across classes (2, 3), so with m = 0 some hinges are exactly 0.
    codes[1] = codes[0]
    codes[3] = codes[2]
    return codes.to(dtype)


def _labels(num, classes, multi_label, gen):
    if multi_label:
        labels = (torch.rand(num, classes, generator=gen) > 0.7).float()
        labels[:, 0] += (labels.sum(1) == 0).float()  # at least one class
    else:
        labels = F.one_hot(
            torch.randint(0, classes, (num,), generator=gen), classes).float()
    labels[:2] = labels[0]  # 0 and 1 are positives of each other
    labels[2] = 0.
    labels[2, 1] = 1.
    labels[3] = 0.
    labels[3, 2] = 1.  # 2 and 3 share no label
    # An anchor with no positive (a class of its own) and one with no
    # negative (every class: similar to all).
    labels = torch.cat([labels, torch.zeros(num, 2)], 1)
    labels[4] = 0.
    labels[4, -2] = 1.
    labels[5] = 1.
    return labels


@pytest.mark.parametrize('dtype', [torch.float64, torch.float32], ids=str)
@pytest.mark.parametrize('kind', ['tanh', 'sigmoid'])
@pytest.mark.parametrize('multi_label', [False, True],
                         ids=['single_label', 'multi_label'])
@pytest.mark.parametrize('margin', [0., 0.5, 2., 50.])
def test_equals_direct_sum_over_triplets(dtype, kind, multi_label, margin):
    gen = torch.Generator().manual_seed(int(10 * margin) + 7 * multi_label)
    num = 30
    codes = _codes(num, 10, kind, dtype, gen)
    labels = _labels(num, 4, multi_label, gen).to(dtype)
    _assert_same(codes, labels, margin)


@pytest.mark.parametrize('block_size', [1, 7, 64])
def test_block_size_changes_nothing(block_size):
    gen = torch.Generator().manual_seed(3)
    codes = _codes(20, 6, 'tanh', torch.float64, gen)
    labels = _labels(20, 3, False, gen).double()
    _assert_same(codes, labels, 1., block_size=block_size)
    value, grad = _value_and_grad(
        lambda c, y, m: triplet_ranking_loss(c, y, m, block_size=block_size),
        codes, labels, 1.)
    auto_value, auto_grad = _value_and_grad(triplet_ranking_loss, codes,
                                            labels, 1.)
    assert torch.equal(value, auto_value) and torch.equal(grad, auto_grad)
    with pytest.raises(ValueError, match='block_size'):
        triplet_ranking_loss(codes, labels, 1., block_size=0)


def test_small_hinges_on_large_distances_float32():
    """Every hinge ~0.1 on distances ~1000: c t - sum_k d_k would cancel
    (both ~2e5 against a sum ~20); the float32 value stays as close to
    the exact sum of the same float32 distances as the direct one."""
    gen = torch.Generator().manual_seed(1)
    bits, num_neg, radius = 8, 200, 1000.
    positive = torch.zeros(1, bits, dtype=torch.float64)
    positive[0, 0] = radius**0.5
    dirs = torch.randn(num_neg, bits, generator=gen, dtype=torch.float64)
    dirs = dirs / dirs.norm(dim=1, keepdim=True)
    radii = (radius + 0.4 + 0.2 * torch.rand(
        num_neg, generator=gen, dtype=torch.float64)).sqrt()
    codes = torch.cat([torch.zeros(1, bits, dtype=torch.float64), positive,
                       dirs * radii[:, None]]).float()
    labels = torch.eye(len(codes))
    labels[1, 0] = 1.  # one positive pair, every other sample a negative
    margin = 0.6
    # Exact arithmetic on the float32 distances and thresholds.
    dist = (codes.unsqueeze(1) - codes.unsqueeze(0)).pow(2).sum(-1)
    thresh = (margin + dist).double()
    pos = label_similarity(labels).bool() & ~torch.eye(len(codes),
                                                       dtype=torch.bool)
    valid = pos.unsqueeze(2) & ~label_similarity(labels).bool().unsqueeze(1)
    exact = (thresh.unsqueeze(2) -
             dist.double().unsqueeze(1)).clamp(min=0)[valid].mean()
    got = triplet_ranking_loss(codes, labels, margin)
    assert abs(got.item() / exact.item() - 1) < 1e-6
    _assert_same(codes, labels, margin)


@pytest.mark.parametrize('case', ['no_negative', 'no_positive', 'two'])
def test_no_triplet_is_zero_with_a_gradient_path(case):
    gen = torch.Generator().manual_seed(0)
    num = 2 if case == 'two' else 6
    codes = torch.randn(num, 5, generator=gen, requires_grad=True)
    if case == 'no_positive':
        labels = torch.eye(num)  # every sample its own class
    else:
        labels = torch.ones(num, 3)  # all similar
    loss = TripletRankingLoss(margin=2.)(codes, labels)
    loss.backward()
    assert loss.item() == 0
    assert codes.grad is not None and torch.equal(
        codes.grad, torch.zeros_like(codes))


@pytest.mark.parametrize('bad', [float('nan'), float('inf')])
def test_non_finite_codes_give_nan(bad):
    codes = torch.tanh(torch.randn(8, 4, generator=torch.Generator(
    ).manual_seed(0)))
    labels = F.one_hot(torch.arange(8) % 3, 3).float()
    # One non-finite bit of one sample, a negative of most anchors.
    codes[7, 2] = bad
    assert torch.isnan(_direct(codes, labels, 1.))
    assert torch.isnan(triplet_ranking_loss(codes, labels, 1.))


def test_a_batch_the_cube_cannot_hold():
    """N = 2048: the old (N, N, N) hinges were 2048^3 floats = 32 GiB
    (times the mask and the saved tensors); this is a few (N, N) ones."""
    gen = torch.Generator().manual_seed(0)
    num, bits = 2048, 32
    codes = torch.tanh(torch.randn(num, bits, generator=gen))
    codes.requires_grad_()
    labels = F.one_hot(torch.randint(0, 10, (num,), generator=gen),
                       10).float()
    start = time.perf_counter()
    loss = triplet_ranking_loss(codes, labels, 2.)
    loss.backward()
    seconds = time.perf_counter() - start
    assert torch.isfinite(loss) and torch.isfinite(codes.grad).all()
    assert seconds < 60, f'{seconds:.1f} s'
    # The value against the direct sum, one anchor at a time (an anchor's
    # triplets are only a |P(i)| x |N(i)| slice), in float64.
    with torch.no_grad():
        codes = codes.double()
        sim = label_similarity(labels).bool()
        total, count = 0., 0
        for i in range(num):
            dist = (codes - codes[i]).pow(2).sum(1)
            is_pos = sim[i].clone()
            is_pos[i] = False
            d_pos, d_neg = dist[is_pos], dist[~sim[i]]
            total += (2. + d_pos[:, None] - d_neg[None]).clamp(
                min=0).sum().item()
            count += d_pos.numel() * d_neg.numel()
    assert loss.item() == pytest.approx(total / count, rel=1e-5)


def test_half_precision_codes_and_autocast():
    gen = torch.Generator().manual_seed(2)
    num, bits, width = 40, 16, 24
    labels = F.one_hot(torch.randint(0, 4, (num,), generator=gen),
                       4).float()
    # bf16 codes given directly: computed in float32 from the rounded codes.
    codes = torch.tanh(2 * torch.randn(num, bits, generator=gen))
    half = codes.bfloat16().requires_grad_()
    value = triplet_ranking_loss(half, labels, 2.)
    grad, = torch.autograd.grad(value, half)
    ref_value, ref_grad = _value_and_grad(_direct, half.detach().float(),
                                          labels, 2.)
    assert value.dtype == torch.float32 and torch.isfinite(value)
    assert grad.dtype == torch.bfloat16
    torch.testing.assert_close(value, ref_value, rtol=1e-6, atol=0)
    torch.testing.assert_close(grad.float(), ref_grad, rtol=1e-2,
                               atol=1e-2 * ref_grad.abs().max())
    # A bf16 Linear under CPU autocast, the loss called inside it too.
    lin = torch.nn.Linear(width, bits)
    x = torch.randn(num, width, generator=gen)
    loss_fn = TripletRankingLoss(margin=2.)
    with torch.autocast('cpu', torch.bfloat16):
        amp_codes = torch.tanh(lin(x))
        amp_value = loss_fn(amp_codes, labels)
    assert amp_codes.dtype == torch.bfloat16
    amp_grad, = torch.autograd.grad(amp_value, lin.weight)
    fp32_value = loss_fn(torch.tanh(lin(x)), labels)
    fp32_grad, = torch.autograd.grad(fp32_value, lin.weight)
    assert amp_value.dtype == torch.float32 and torch.isfinite(amp_value)
    assert torch.isfinite(amp_grad).all()
    torch.testing.assert_close(amp_value, fp32_value, rtol=5e-2, atol=0)
    torch.testing.assert_close(amp_grad, fp32_grad, rtol=0.1,
                               atol=0.05 * fp32_grad.abs().max())


# ----------------------------------------------------------------------
# The global batch of 2 gloo ranks (HashHead gathers codes and labels).
N, FEAT, CLASSES = 12, 6, 4


def _head():
    torch.manual_seed(0)
    return MODELS.build(
        dict(type='HashHead', in_channels=FEAT, num_bits=8,
             num_classes=CLASSES,
             losses=dict(triplet=dict(type='TripletRankingLoss', margin=2.,
                                      block_size=5))))


def _data():
    g = torch.Generator().manual_seed(1)
    feats = torch.randn(N, FEAT, generator=g)
    # Each rank's half holds positives and negatives of the other's.
    labels = [i % CLASSES for i in range(N)]
    return feats, labels


def _loss_and_grads(head, feats, labels):
    samples = [DataSample().set_gt_label(y) for y in labels]
    loss = head.loss(feats, samples)['loss_triplet']
    loss.backward()
    return loss.detach(), {k: p.grad.clone()
                           for k, p in head.named_parameters()}


def _worker(rank, port, queue):
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}',
                            rank=rank, world_size=2)
    torch.set_num_threads(1)
    feats, labels = _data()
    half = slice(rank * N // 2, (rank + 1) * N // 2)
    loss, grads = _loss_and_grads(_head(), feats[half], labels[half])
    for g in grads.values():  # DDP averages gradients over ranks
        dist.all_reduce(g)
        g /= 2
    queue.put(dict(rank=rank, loss=loss.item(),
                   grads={k: g.numpy() for k, g in grads.items()}))
    dist.barrier()
    dist.destroy_process_group()


def test_two_ranks_match_one_process_with_the_whole_batch():
    results = run_ranks(_worker, num_results=2)
    loss, grads = _loss_and_grads(_head(), *_data())
    assert sorted(r['rank'] for r in results) == [0, 1]
    for result in results:
        assert result['loss'] == pytest.approx(loss.item(), rel=1e-6)
        for key, grad in grads.items():
            torch.testing.assert_close(
                torch.from_numpy(result['grads'][key]), grad, rtol=1e-5,
                atol=1e-7, msg=key)
