"""Stable Hamming ranking, and that blocking and chunking never change a
number."""
import numpy as np
import pytest

from hashplugins.evaluation.functional import (hamming_distance,
                                               hamming_ranking,
                                               hamming_retrieval_metrics)
from hashplugins.evaluation.functional.ranking import ranked_prefix

from .synthetic import make_problem


@pytest.mark.parametrize('bits', [8, 64])
def test_hamming_ranking_is_a_stable_argsort(bits):
    q, d, _, _ = make_problem(bits, bits, num_query=9, num_db=500)
    dist = hamming_distance(q, d).astype(np.int64)
    order = np.argsort(dist, axis=1, kind='stable')
    for topk in (None, 1, 37, 500, 900):
        idx, dd = hamming_ranking(q, d, topk=topk, block_size=4)
        k = 500 if topk is None else min(topk, 500)
        np.testing.assert_array_equal(idx, order[:, :k])
        np.testing.assert_array_equal(dd, np.take_along_axis(dist, idx, 1))


def test_ranked_prefix_lengths():
    rng = np.random.default_rng(0)
    dist = rng.integers(0, 5, size=(4, 30)).astype(np.uint8)
    hist = np.stack([np.bincount(r, minlength=5) for r in dist])
    rows, cols, pos = ranked_prefix(dist, hist, np.array([0, 1, 30, 13]))
    order = np.argsort(dist, axis=1, kind='stable')
    assert not (rows == 0).any()
    for r, length in ((1, 1), (2, 30), (3, 13)):
        np.testing.assert_array_equal(cols[rows == r], order[r, :length])
        np.testing.assert_array_equal(pos[rows == r], np.arange(length))


@pytest.mark.parametrize('multi', [False, True])
def test_blocks_and_candidate_chunks_do_not_change_results(multi):
    from hashplugins.evaluation.functional.engine import run_pass
    from hashplugins.evaluation.functional import (MeanAPRequest,
                                                   RadiusMAPRequest,
                                                   TopNRequest)
    q, d, ql, dl = make_problem(
        3, 16, num_query=23, num_db=400, multi_label=multi)

    def compute(**kwargs):
        requests = [
            MeanAPRequest(None),
            MeanAPRequest(50),
            RadiusMAPRequest(3),
            TopNRequest([5, 120])
        ]
        return run_pass(q, d, ql, dl, requests, backend='numpy', **kwargs)

    expected = compute()
    for kwargs in (dict(block_size=1), dict(block_size=5),
                   dict(max_candidates=50), dict(max_candidates=1)):
        assert compute(**kwargs) == expected


def test_metric_names_and_selection():
    q, d, ql, dl = make_problem(1, 12, num_query=5, num_db=60)
    out = hamming_retrieval_metrics(
        q,
        d,
        ql,
        dl,
        metrics=('mAP', 'MAP@H', 'R@H', 'P@N', 'PR'),
        topk=(None, 10),
        radius=(1, 2),
        precision_at=(5, ))
    assert list(out) == [
        'mAP@all', 'mAP@10', 'MAP@H<=1', 'MAP@H<=2', 'R@H<=1', 'R@H<=2', 'P@5',
        'pr_by_radius', 'pr_by_topn'
    ]
    assert set(out['pr_by_topn']) == {'n', 'precision', 'recall'}
    with pytest.raises(ValueError, match='must be one of'):
        hamming_retrieval_metrics(q, d, ql, dl, metrics=('NDCG', ))
