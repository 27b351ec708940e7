"""The blockwise torch backend against the numpy backend, bit for bit.

Tiny class-structured problems full of ties (few bits, clustered codes),
single- and multi-label (items without labels too), every metric family,
both tie and zero-hit policies, and every path of the torch backend:
compact and dense ranks, ``bincount`` and ``scatter_add_`` histograms,
``nonzero_static`` and its fallback, direct and long-code distances,
block sizes down to one query. ``'auto'`` is checked to pick numpy for
CPU inputs and torch for accelerator tensors.
"""
import numpy as np
import pytest
import torch
from host_sync_helpers import count_host_syncs

import hashplugins.evaluation.functional.torch_backend as tb
from hashplugins.evaluation.functional import hamming_retrieval_metrics
from hashplugins.evaluation.functional.engine import choose_backend
from hashplugins.evaluation.functional.hamming import hamming_distance
from hashplugins.evaluation.functional.numpy_backend import \
    numpy_block_stats
from hashplugins.evaluation.functional.relevance import prepare_labels

from .synthetic import assert_results_equal, make_problem

torch.set_num_threads(1)

KWARGS = dict(
    metrics=('mAP', 'MAP@H', 'P@H', 'R@H', 'P@N', 'R@N', 'PR'),
    topk=(None, 1, 9, 60),
    radius=(0, 2),
    precision_at=(5, 77),
    pr_topn=(1, 10, 100, 1000))

PATHS = {
    'compact': dict(DENSE_FRACTION=0),
    'dense': dict(DENSE_FRACTION=10**9),
    'scatter_add': dict(BINCOUNT_DEVICES=()),
    'no_nonzero_static': dict(_HAS_NONZERO_STATIC=False),
}


@pytest.fixture(params=sorted(PATHS))
def path(request, monkeypatch):
    for name, value in PATHS[request.param].items():
        monkeypatch.setattr(tb, name, value)
    return request.param


def _problem(multi_label, bits=6, seed=0):
    # 6 bits: 7 distances for 150 items, so every bucket holds many ties.
    return make_problem(
        seed,
        bits,
        num_query=23,
        num_db=150,
        num_classes=4,
        multi_label=multi_label,
        flip=0.2)


@pytest.mark.parametrize('multi_label', [False, True])
@pytest.mark.parametrize('tie_break', ['index', 'average'])
@pytest.mark.parametrize('zero_hit', ['zero', 'exclude'])
@pytest.mark.parametrize('block_size', [1, 5, None])
def test_identical_to_numpy(path, multi_label, tie_break, zero_hit, block_size,
                            device):
    q, d, ql, dl = _problem(multi_label)
    kwargs = dict(KWARGS, tie_break=tie_break, zero_hit=zero_hit)
    expected = hamming_retrieval_metrics(
        q, d, ql, dl, backend='numpy', **kwargs)
    got = hamming_retrieval_metrics(
        torch.from_numpy(q).to(device),
        torch.from_numpy(d).to(device),
        ql,
        dl,
        backend='torch',
        block_size=block_size,
        **kwargs)
    assert_results_equal(got, expected)


def _stats(blocks):
    return [(s.start, s.hist_all, s.hist_rel, s.prefix, s.rel_rows, s.rel_pos,
             s.num_db) for s in blocks]


@pytest.mark.parametrize('multi_label', [False, True])
@pytest.mark.parametrize('bits', [1, 6, 64, 127, 200, 300])
def test_block_stats_equal_numpy(path, multi_label, bits):
    """The integers themselves (histograms, prefixes, ranks), for codes
    of every distance dtype and both distance paths (> 256 bits: the
    rounded product)."""
    from hashplugins.evaluation.functional.average_precision import \
        MeanAPRequest
    q, d, ql, dl = _problem(multi_label, bits=bits, seed=bits)
    labels = prepare_labels(ql, dl)
    requests = [MeanAPRequest(40)]
    want = _stats(numpy_block_stats(q, d, labels, requests, 4, 1 << 21))
    got = _stats(tb.torch_block_stats(q, d, labels, requests, 4))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g[0] == w[0] and g[6] == w[6]
        for a, b in zip(g[1:6], w[1:6]):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize('bits', [1, 7, 64, 255, 256])
@pytest.mark.parametrize('dtype',
                         [torch.float32, torch.float16, torch.bfloat16])
def test_direct_distances_are_exact(bits, dtype):
    """The product of :func:`direct_operands` is the popcount distance in
    every product dtype the backend may meet (fp16 on CUDA, bf16 under a
    reduced-precision setting)."""
    rng = np.random.default_rng(bits)
    q = rng.choice([-1.0, 1.0], size=(9, bits))
    d = rng.choice([-1.0, 1.0], size=(31, bits))
    q_op, d_op = tb.direct_operands(
        torch.from_numpy(q).to(dtype),
        torch.from_numpy(d).to(dtype), dtype)
    got = (q_op @ d_op).float()
    np.testing.assert_array_equal(got.numpy(), hamming_distance(q, d))


def test_ties_follow_database_position():
    """All items at one distance: 'index' ranks are database positions."""
    q = np.ones((2, 4))
    d = np.ones((6, 4))
    ql, dl = np.array([0, 1]), np.array([1, 0, 0, 1, 1, 0])
    got = hamming_retrieval_metrics(
        q, d, ql, dl, metrics=('mAP', ), topk=(None, 2), backend='torch')
    # query 0: relevant at ranks 2, 3, 6; query 1: at 1, 4, 5.
    ap0 = (1 / 2 + 2 / 3 + 3 / 6) / 3
    ap1 = (1 / 1 + 2 / 4 + 3 / 5) / 3
    assert got['mAP@all'] == pytest.approx((ap0 + ap1) / 2, abs=1e-15)
    # top 2: query 0 finds its first hit at rank 2, query 1 at rank 1.
    assert got['mAP@2'] == pytest.approx((1 / 2 + 1) / 2, abs=1e-15)


def test_one_host_read_per_block(monkeypatch):
    """Block k's ranks and block k + 1's counts come back in one read;
    nothing else in the torch backend reads the device."""
    q, d, ql, dl = _problem(True)
    kwargs = dict(KWARGS, backend='torch', block_size=5)
    expected = hamming_retrieval_metrics(
        q, d, ql, dl, backend='numpy', **dict(KWARGS))
    with count_host_syncs(monkeypatch) as counts:
        got = hamming_retrieval_metrics(
            torch.from_numpy(q), torch.from_numpy(d), ql, dl, **kwargs)
    assert_results_equal(got, expected)
    ours = {k: v for k, v in counts.items() if 'torch_backend.py' in k}
    reads = sum(v for k, v in ours.items() if k.endswith(' cpu'))
    num_blocks = -(-len(q) // 5)
    assert reads == num_blocks + 1, ours  # + the first block's counts
    # .numpy() of the read host tensor only; no item/tolist/bool reads.
    assert all(k.endswith((' cpu', ' numpy')) for k in ours), ours


def test_block_rows_follow_the_budget(monkeypatch):
    cpu = torch.device('cpu')
    monkeypatch.setattr(tb, 'BLOCK_BYTES', {'cpu': 10 * 150 * 32})
    assert tb.block_rows(23, 150, cpu) == 10
    assert tb.block_rows(3, 150, cpu) == 3
    assert tb.block_rows(23, 10**9, cpu) == 1
    assert tb.block_rows(23, 150, torch.device('meta')) == 23
    q, d, ql, dl = _problem(False)
    labels = prepare_labels(ql, dl)
    starts = [s.start for s in tb.torch_block_stats(q, d, labels, [], None)]
    assert starts == [0, 10, 20]


def test_auto_picks_numpy_on_the_cpu_and_torch_on_accelerators():
    arr = np.ones((2, 8))
    cpu = torch.ones(2, 8)
    meta = torch.ones(2, 8, device='meta')  # stands in for a CUDA tensor
    assert choose_backend('auto', arr, arr) == 'numpy'
    assert choose_backend('auto', cpu, cpu) == 'numpy'
    assert choose_backend('auto', meta, meta) == 'torch'
    assert choose_backend('auto', cpu, meta) == 'torch'
    assert choose_backend('auto', meta, meta, device='cpu') == 'numpy'
    assert choose_backend('auto', arr, arr, device='cuda:1') == 'torch'
    assert choose_backend('numpy', arr, arr, device='cuda') == 'torch'
    assert choose_backend('torch', arr, arr) == 'torch'
    assert choose_backend('torch', arr, arr, device='cpu') == 'torch'
    assert choose_backend('numpy', meta, meta) == 'numpy'
    with pytest.raises(ValueError, match='backend must be one of'):
        choose_backend('cuda', arr, arr)


def test_mixed_devices_compute_on_the_accelerator():
    meta = torch.ones(2, 8, device='meta')
    assert tb._pick_device(np.ones((2, 8)), meta, None).type == 'meta'
    assert tb._pick_device(meta, torch.ones(2, 8), None).type == 'meta'
    assert tb._pick_device(meta, meta, 'cpu').type == 'cpu'
