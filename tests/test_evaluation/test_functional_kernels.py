"""The compiled kernels of the numpy backend against its numpy path: the
same integers (histograms, ranks) and the same floats for every metric,
their input checks, and the switch that turns them off."""
import numpy as np
import pytest

import hashplugins.evaluation.functional.kernels as kernels
import hashplugins.evaluation.functional.numpy_backend as numpy_backend
from hashplugins.evaluation.functional import hamming_retrieval_metrics
from hashplugins.evaluation.functional.evaluate import build_requests
from hashplugins.evaluation.functional.relevance import prepare_labels

from .synthetic import assert_results_equal, make_problem

pytestmark = pytest.mark.skipif(
    not kernels.kernels_built(),
    reason='compiled kernels not built (`pip install -e .` builds them '
    'where a C compiler and the Python headers are present)')

ALL_METRICS = dict(
    metrics=('mAP', 'MAP@H', 'P@H', 'R@H', 'P@N', 'R@N', 'PR'),
    radius=[0, 2, 5],
    precision_at=[1, 10, 250])


@pytest.fixture(autouse=True, params=['fused', 'two_pass'])
def rank_pass(request, monkeypatch):
    """Every test runs with the ranks taken in the distance pass after the
    first block (``'fused'``) and in a second pass (``'two_pass'``)."""
    monkeypatch.setattr(numpy_backend, 'FUSED_MIN_FRACTION',
                        0.0 if request.param == 'fused' else 2.0)
    return request.param


def both_paths(monkeypatch, fn):
    """``fn()`` with the kernels on, then with them off."""
    monkeypatch.setenv(kernels.KERNELS_ENV, '1')
    on = fn()
    monkeypatch.setenv(kernels.KERNELS_ENV, '0')
    off = fn()
    return on, off


def problem(seed, bits, num_db, multi, kind):
    q, d, ql, dl = make_problem(
        seed,
        bits,
        num_query=13,
        num_db=num_db,
        num_classes=4,
        multi_label=multi,
        structured=kind == 'structured')
    if kind == 'constant':  # every item ties with every other
        q[:], d[:] = 1.0, 1.0
    if not multi:
        ql, dl = ql.argmax(axis=1), dl.argmax(axis=1)
    return q, d, ql, dl


@pytest.mark.parametrize('tie_break', ['index', 'average'])
@pytest.mark.parametrize('kind', ['structured', 'random', 'constant'])
@pytest.mark.parametrize('multi', [False, True])
@pytest.mark.parametrize('bits,num_db', [(1, 50), (7, 300), (48, 300),
                                         (64, 2000), (65, 300), (255, 200)])
def test_metrics_equal_numpy_path(monkeypatch, tie_break, kind, multi, bits,
                                  num_db):
    """Short prefixes (mAP@1 of 2,000 items: most of a row skipped 8 at a
    time), cuts inside tie buckets, whole rows, radius and curve metrics,
    several words per code, all of them bit for bit."""
    q, d, ql, dl = problem(bits + num_db, bits, num_db, multi, kind)
    for block_size in (1, 5, None):
        on, off = both_paths(
            monkeypatch, lambda: hamming_retrieval_metrics(
                q,
                d,
                ql,
                dl,
                topk=[None, 1, 3, 10, num_db // 2, num_db, 10 * num_db],
                topk_beyond_database='clamp',  # 10 * num_db: cut to N
                tie_break=tie_break,
                backend='numpy',
                block_size=block_size,
                **ALL_METRICS))
        assert_results_equal(on, off)


def block_stats(q, d, ql, dl, block_size=4, **options):
    requests, _ = build_requests(**options)
    return list(
        numpy_backend.numpy_block_stats(q, d, prepare_labels(ql, dl),
                                        requests, block_size, 1 << 20))


@pytest.mark.parametrize('multi', [False, True])
def test_block_stats_integers_equal(monkeypatch, multi):
    """The integers every metric reads: per-distance counts of all and of
    relevant items, the prefix lengths and the relevant items' ranks."""
    q, d, ql, dl = problem(3, 16, 700, multi, 'structured')
    on, off = both_paths(
        monkeypatch, lambda: block_stats(
            q, d, ql, dl, metrics=('mAP', 'P@N'), topk=[None, 5],
            precision_at=[40]))
    assert len(on) == len(off) == 4
    for a, b in zip(on, off):
        assert a.start == b.start and a.num_db == b.num_db
        for field in ('hist_all', 'hist_rel', 'prefix', 'rel_rows',
                      'rel_pos'):
            np.testing.assert_array_equal(
                getattr(a, field), getattr(b, field), err_msg=field)
            assert getattr(a, field).dtype == np.int64 or field == 'prefix'


def test_rows_without_prefix_or_relevant_items(monkeypatch):
    """A query whose class is absent from the database: no relevant item,
    no prefix needed for its AP; rows around it are unaffected."""
    q, d, ql, dl = problem(5, 12, 200, False, 'structured')
    dl = np.where(dl == 3, 2, dl)
    ql[::2] = 3
    on, off = both_paths(
        monkeypatch, lambda: hamming_retrieval_metrics(
            q, d, ql, dl, topk=[None, 7], backend='numpy', block_size=4,
            **ALL_METRICS))
    assert_results_equal(on, off)


def test_longer_codes_use_the_numpy_path(monkeypatch):
    """Distances above 255 do not fit the kernels' uint8 rows."""
    assert kernels.use_kernels(255) == kernels.kernels_enabled()
    assert not kernels.use_kernels(256)
    calls = []
    monkeypatch.setattr(kernels, 'block_histograms',
                        lambda *a: calls.append(a))
    q, d, ql, dl = problem(1, 256, 100, False, 'random')
    result = hamming_retrieval_metrics(q, d, ql, dl, backend='numpy')
    assert calls == [] and 0 <= result['mAP@all'] <= 1


def test_switch_turns_the_kernels_off(monkeypatch):
    """``HASHPLUGINS_EVAL_KERNELS=0``: no compiled call at all."""

    class NoKernels:

        def __getattr__(self, name):
            raise AssertionError(f'compiled kernel {name} called')

    q, d, ql, dl = problem(2, 32, 100, False, 'structured')
    monkeypatch.setenv(kernels.KERNELS_ENV, '1')
    assert kernels.kernels_enabled() and kernels.use_kernels(32)
    want = hamming_retrieval_metrics(q, d, ql, dl, backend='numpy')
    monkeypatch.setattr(kernels, '_kernels', NoKernels())
    with pytest.raises(AssertionError, match='compiled kernel'):
        hamming_retrieval_metrics(q, d, ql, dl, backend='numpy')
    monkeypatch.setenv(kernels.KERNELS_ENV, '0')
    assert not kernels.kernels_enabled() and not kernels.use_kernels(32)
    assert hamming_retrieval_metrics(q, d, ql, dl, backend='numpy') == want


def test_kernel_labels_layout():
    labels = prepare_labels(np.array([2, 0]), np.array([0, 2, 2, 1, 0]))
    keys = kernels.kernel_labels(labels)
    assert keys.db_keys.dtype == keys.query_keys.dtype == np.int32
    np.testing.assert_array_equal(keys.query_keys, [2, 0])
    start, stop = keys.class_offsets[2], keys.class_offsets[3]
    np.testing.assert_array_equal(np.sort(keys.class_members[start:stop]),
                                  [1, 2])
    multi = prepare_labels(np.array([[1, 1], [0, 1]]), np.eye(2))
    assert kernels.kernel_labels(multi) is None


def words(num_words, n, seed=0):
    return np.random.default_rng(seed).integers(
        0, 2**63, size=(num_words, n), dtype=np.uint64)


def test_hamming_hist_checks_its_buffers():
    q, d = words(1, 3), words(1, 10, 1)
    dist = np.empty((3, 10), np.uint8)
    hist = np.empty((3, 65), np.int64)
    kernels._kernels.hamming_hist(q, d, dist, hist, 1, 3, 10, 65)
    ref = np.array([[bin(int(a) ^ int(b)).count('1') for b in d[0]]
                    for a in q[0]])
    np.testing.assert_array_equal(dist, ref)
    np.testing.assert_array_equal(
        hist, [np.bincount(r, minlength=65) for r in ref])
    with pytest.raises(ValueError, match='db_words'):
        kernels._kernels.hamming_hist(q, d[:, :9], dist, hist, 1, 3, 10, 65)
    with pytest.raises(ValueError, match='hist'):
        kernels._kernels.hamming_hist(q, d, dist, hist[:2], 1, 3, 10, 65)
    with pytest.raises(TypeError):  # the output must be writable
        ro = dist.copy()
        ro.flags.writeable = False
        kernels._kernels.hamming_hist(q, d, ro, hist, 1, 3, 10, 65)


def test_relevant_ranks_rejects_inconsistent_counts():
    """A relevance histogram that disagrees with the keys is an error, not
    a write past the output arrays."""
    dist = np.zeros((1, 6), np.uint8)
    hist = np.zeros((1, 3), np.int64)
    hist[0, 0] = 6
    hist_rel = np.zeros((1, 3), np.int64)
    hist_rel[0, 0] = 1  # but three items carry the query's key
    keys = np.array([0, 1, 0, 1, 0, 1], np.int32)
    rows = np.empty(1, np.int64)
    pos = np.empty(1, np.int64)
    with pytest.raises(ValueError, match='relevance disagrees'):
        kernels._kernels.relevant_ranks(dist, hist, hist_rel,
                                        np.zeros(1, np.int64),
                                        np.full(1, 6, np.int64), rows, pos,
                                        1, 6, 3, keys,
                                        np.zeros(1, np.int32))


def test_ap_sums_checks_row_order():
    rows = np.array([1, 0], np.int64)
    pos = np.array([0, 0], np.int64)
    with pytest.raises(ValueError, match='sorted rows'):
        kernels.ap_sums(rows, pos, 2, np.array([5, 5]))
    ap, hit = kernels.ap_sums(
        np.array([0, 0, 1]), np.array([0, 2, 4]), 3, np.array([2, 5, 5]))
    # query 0 cut at 2 keeps rank 0 only; query 2 has none.
    np.testing.assert_array_equal(ap, [1.0, 1 / 5, 0.0])
    np.testing.assert_array_equal(hit, [True, True, False])


@pytest.mark.parametrize('multi', [False, True])
def test_whole_row_prefixes_take_the_fused_pass(monkeypatch, multi):
    """mAP@all with ``tie_break='index'`` needs every relevant rank: after
    the probe rows the ranks come from the distance pass (default
    fraction), with the numbers of the two-pass path."""
    monkeypatch.setattr(numpy_backend, 'FUSED_MIN_FRACTION', 0.5)
    calls = []
    fused = kernels.block_ranks
    monkeypatch.setattr(
        kernels, 'block_ranks',
        lambda *a, **k: calls.append(len(a[2])) or fused(*a, **k))
    q, d, ql, dl = problem(11, 24, 400, multi, 'structured')
    kwargs = dict(topk=[None], tie_break='index', backend='numpy',
                  block_size=16)
    q = np.concatenate([q] * 3)  # 39 queries: probe of 8, then 16 + 15
    ql = np.concatenate([ql] * 3)
    on = hamming_retrieval_metrics(q, d, ql, dl, **kwargs)
    assert calls == [16, 15]
    monkeypatch.setattr(numpy_backend, 'FUSED_MIN_FRACTION', 2.0)
    assert_results_equal(on, hamming_retrieval_metrics(q, d, ql, dl, **kwargs))


def test_fused_pass_checks_its_output_room():
    """The rank arrays must hold every relevant item; one slot short is an
    error, not a write past the end."""
    q, d, ql, dl = problem(4, 16, 50, False, 'structured')
    labels = kernels.kernel_labels(prepare_labels(ql, dl))
    from hashplugins.evaluation.functional.codes import (pack_codes,
                                                         packed_to_words)
    qw = np.ascontiguousarray(packed_to_words(pack_codes(q[:1])))
    dw = np.ascontiguousarray(packed_to_words(pack_codes(d)))
    need = int((labels.db_keys == labels.query_keys[0]).sum())
    assert need > 0
    dist = np.empty((1, 50), np.uint8)
    hist, hist_rel = np.empty((2, 1, 17), np.int64)
    for room, ok in ((need, True), (need - 1, False)):
        rows, pos = np.empty((2, room), np.int64)
        args = (qw, dw, dist, hist, hist_rel, rows, pos, 1, 1, 50, 17,
                labels.db_keys, labels.query_keys[:1])
        if ok:
            assert kernels._kernels.hamming_ranks(*args) == need
            assert (np.diff(pos) > 0).all() and hist_rel.sum() == need
        else:
            with pytest.raises(ValueError, match='more relevant items'):
                kernels._kernels.hamming_ranks(*args)


def test_mask_histograms_count_the_flagged_items():
    """Multi-label relevance as a 0/1 mask: the relevant counts per
    distance are those of the flagged items; a mask of the wrong size or
    without an output is refused."""
    from hashplugins.evaluation.functional.codes import (pack_codes,
                                                         packed_to_words)
    q, d, _, _ = problem(8, 20, 90, True, 'random')
    qw = np.ascontiguousarray(packed_to_words(pack_codes(q[:3])))
    dw = np.ascontiguousarray(packed_to_words(pack_codes(d)))
    mask = np.random.default_rng(0).random((3, 90)) < 0.3
    dist = np.empty((3, 90), np.uint8)
    hist_all, hist_rel = kernels.block_histograms(qw, dw, dist, 20, None, 0,
                                                  mask)
    for i in range(3):
        np.testing.assert_array_equal(
            hist_rel[i], np.bincount(dist[i][mask[i]], minlength=21))
        np.testing.assert_array_equal(hist_all[i],
                                      np.bincount(dist[i], minlength=21))
    hist = np.empty((3, 21), np.int64)
    with pytest.raises(TypeError):  # the mask needs a hist_rel output
        kernels._kernels.hamming_hist(qw, dw, dist, hist, 1, 3, 90, 21, None,
                                      None, None, None, mask.view(np.uint8))
    with pytest.raises(ValueError, match='mask: buffer holds'):
        kernels._kernels.hamming_hist(qw, dw, dist, hist, 1, 3, 90, 21, None,
                                      None, None, hist.copy(),
                                      mask[:2].view(np.uint8))
