"""The 'index' tie policy against a brute-force stable argsort, on both
numpy ranking paths: the whole-row counting sort (long prefixes such as
mAP@all) and the ranked-prefix path (short prefixes)."""
import numpy as np
import pytest

import hashplugins.evaluation.functional.kernels as kernels
import hashplugins.evaluation.functional.numpy_backend as numpy_backend
from hashplugins.evaluation.functional import (hamming_distance,
                                               hamming_retrieval_metrics,
                                               relevance_matrix)

from .synthetic import assert_results_equal, make_problem


def brute_force_map(q, d, ql, dl, topk, zero_hit):
    """mAP@K with ties by database position, from np.argsort(stable)."""
    dist = hamming_distance(q, d).astype(np.int64)
    rel = relevance_matrix(ql, dl)
    order = np.argsort(dist, axis=1, kind='stable')
    k = dist.shape[1] if topk is None else min(topk, dist.shape[1])
    aps, hit = [], []
    for i in range(len(q)):
        ranked = rel[i, order[i, :k]].astype(np.float64)
        n = ranked.sum()
        hit.append(n > 0)
        if n == 0:
            aps.append(0.0)
            continue
        pos = np.flatnonzero(ranked) + 1.0
        aps.append(float((np.cumsum(ranked)[pos.astype(int) - 1] /
                          pos).sum() / n))
    aps, hit = np.array(aps), np.array(hit)
    if zero_hit == 'zero':
        return float(aps.mean())
    return float(aps[hit].mean()) if hit.any() else 0.0


def cut_inside_buckets(q, d):
    """List lengths that end strictly inside a tie bucket of query 0."""
    dist = hamming_distance(q[:1], d)[0].astype(np.int64)
    cum = np.cumsum(np.bincount(dist))
    sizes = np.diff(np.concatenate([[0], cum]))
    return [int(c - s // 2) for c, s in zip(cum, sizes) if s >= 3][:3]


@pytest.fixture(params=['kernels', 'default', 'dense', 'sparse'])
def path(request, monkeypatch):
    """The compiled kernels (where built), or every row forced onto one
    numpy path (or the numpy path's own choice)."""
    if request.param == 'kernels':
        if not kernels.kernels_built():
            pytest.skip('compiled kernels not built')
        return request.param
    monkeypatch.setenv(kernels.KERNELS_ENV, '0')
    if request.param == 'dense':
        monkeypatch.setattr(numpy_backend, 'DENSE_FRACTION', 10**9)
    elif request.param == 'sparse':
        monkeypatch.setattr(numpy_backend, 'DENSE_FRACTION', 0)
    return request.param


@pytest.mark.parametrize('seed', range(3))
@pytest.mark.parametrize('bits,multi,class_ids', [(3, False, False),
                                                  (8, False, True),
                                                  (16, True, False),
                                                  (5, True, False),
                                                  (64, False, False)])
def test_index_map_equals_stable_argsort(path, seed, bits, multi, class_ids):
    q, d, ql, dl = make_problem(
        seed,
        bits,
        num_query=17,
        num_db=431,
        num_classes=4,
        multi_label=multi,
        structured=seed != 2)
    if class_ids:
        ql, dl = ql.argmax(axis=1), dl.argmax(axis=1)
    topks = [None, 1, 10, 200, 431, 1000] + cut_inside_buckets(q, d)
    for zero_hit in ('zero', 'exclude'):
        got = hamming_retrieval_metrics(
            q,
            d,
            ql,
            dl,
            metrics=('mAP', ),
            topk=topks,
            topk_beyond_database='clamp',  # 1000 > 431: cut to N
            zero_hit=zero_hit,
            backend='numpy',
            block_size=5)
        for k in topks:
            name = f'mAP@{"all" if k is None else k}'
            want = brute_force_map(q, d, ql, dl, k, zero_hit)
            assert abs(got[name] - want) < 1e-12, (name, zero_hit)


@pytest.mark.parametrize('num_classes', [3, 300])
def test_paths_agree_on_every_prefix_metric(monkeypatch, num_classes):
    """The kernels, whole-row and prefix paths give identical numbers (bit
    for bit) for
    every metric that reads ranks: mAP@K, MAP@H, P@N / R@N, PR by N; with
    more than 256 classes the class key is 16-bit."""
    rng = np.random.default_rng(7)
    q = rng.choice([-1.0, 1.0], size=(23, 6))
    d = rng.choice([-1.0, 1.0], size=(500, 6))
    ql = rng.integers(0, num_classes, 23)
    dl = rng.integers(0, num_classes, 500)
    dl[:num_classes] = np.arange(num_classes)
    kwargs = dict(
        metrics=('mAP', 'MAP@H', 'P@N', 'R@N', 'PR'),
        topk=[None, 7, 250],
        radius=[1, 4],
        precision_at=[3, 300],
        backend='numpy',
        block_size=4)
    results = []
    if kernels.kernels_built():
        monkeypatch.setenv(kernels.KERNELS_ENV, '1')
        results.append(hamming_retrieval_metrics(q, d, ql, dl, **kwargs))
    monkeypatch.setenv(kernels.KERNELS_ENV, '0')
    # 2 and 3: some rows of a block take each path (the prefix varies).
    for fraction in (0, 10**9, numpy_backend.DENSE_FRACTION, 2, 3):
        monkeypatch.setattr(numpy_backend, 'DENSE_FRACTION', fraction)
        results.append(hamming_retrieval_metrics(q, d, ql, dl, **kwargs))
    for other in results[1:]:
        assert_results_equal(other, results[0])
