"""Golden tests: the engine against straightforward reference
implementations of each published convention (``reference.py``), on
random and structured codes, single- and multi-label, many code lengths,
to 1e-9. The torch backend (run on the CPU here) must give bit-identical
numbers to numpy."""
import numpy as np
import pytest
import torch

from hashplugins.evaluation.functional import (
    hamming_retrieval_metrics, map_within_radius, mean_average_precision,
    pr_curve_by_radius, pr_curve_by_topn, precision_at_n,
    precision_recall_within_radius)

from . import reference as ref
from .synthetic import assert_results_equal, make_problem

TOL = 1e-9
BITS = (8, 12, 16, 48, 64, 128)
CASES = [(bits, multi, structured) for bits in BITS for multi in (False, True)
         for structured in (True, False)]


def _ids(case):
    bits, multi, structured = case
    return (f'{bits}b-{"multi" if multi else "single"}-'
            f'{"struct" if structured else "random"}')


@pytest.fixture(params=CASES, ids=_ids, scope='module')
def problem(request):
    bits, multi, structured = request.param
    # Few-bit structured codes tie heavily; a lower flip rate keeps the
    # many-bit ones from being trivially separable.
    flip = 0.2 if bits <= 16 else 0.3
    return make_problem(
        bits * 7 + multi * 3 + structured,
        bits,
        multi_label=multi,
        structured=structured,
        flip=flip)


@pytest.mark.parametrize('topk', [None, 1, 25, 299, 1000])
def test_map_matches_deephash_pytorch(problem, topk):
    q, d, ql, dl = problem
    expected = ref.map_deephash_pytorch(q, d, ql, dl, topk)
    # K = 1000 > N = 300: the reference slices (K cut to N), on request
    got = mean_average_precision(q, d, ql, dl, topk,
                                 topk_beyond_database='clamp')
    assert abs(got - expected) < TOL


@pytest.mark.parametrize('topk', [None, 25, 1000])
def test_map_exclude_matches_thuml(problem, topk):
    q, d, ql, dl = problem
    expected = ref.map_thuml(d, q, dl, ql, topk or len(d))
    got = mean_average_precision(q, d, ql, dl, topk, zero_hit='exclude',
                                 topk_beyond_database='clamp')
    assert abs(got - expected) < TOL
    # Same convention through the DeepHash-pytorch loop with exclusion.
    assert abs(
        got -
        ref.map_deephash_pytorch(q, d, ql, dl, topk, zero_hit='exclude')) < TOL


@pytest.mark.parametrize('radius', [0, 2, 3, 6])
def test_radius_metrics_match_tah(problem, radius):
    q, d, ql, dl = problem
    expected = ref.map_tah_radius(d, q, dl, ql, radius)
    assert abs(map_within_radius(q, d, ql, dl, radius) - expected) < TOL
    p_ref, r_ref = ref.precision_recall_radius(d, q, dl, ql, radius)
    p, r = precision_recall_within_radius(q, d, ql, dl, radius)
    assert abs(p - p_ref) < TOL and abs(r - r_ref) < TOL


def test_top_n_and_curves(problem):
    q, d, ql, dl = problem
    ns = [1, 5, 64, 300, 5000]
    p_ref, r_ref = ref.precision_recall_at(q, d, ql, dl, ns)
    np.testing.assert_allclose(
        precision_at_n(q, d, ql, dl, ns), p_ref, rtol=0, atol=TOL)
    curve = pr_curve_by_topn(q, d, ql, dl, ns)
    np.testing.assert_allclose(curve['recall'], r_ref, rtol=0, atol=TOL)
    p_ref, r_ref = ref.pr_curve_radius(q, d, ql, dl)
    curve = pr_curve_by_radius(q, d, ql, dl)
    assert list(curve['radius']) == list(range(q.shape[1] + 1))
    np.testing.assert_allclose(curve['precision'], p_ref, rtol=0, atol=TOL)
    np.testing.assert_allclose(curve['recall'], r_ref, rtol=0, atol=TOL)


def test_one_pass_matches_reference_loop(problem):
    q, d, ql, dl = problem
    ns = [10, 100]
    expected = ref.all_in_one_loop(q, d, ql, dl, topk=50, radius=2, ns=ns)
    got = hamming_retrieval_metrics(
        q,
        d,
        ql,
        dl,
        metrics=('mAP', 'P@H', 'P@N', 'R@N', 'PR'),
        topk=50,
        radius=2,
        precision_at=ns,
        pr_topn=ns)
    assert abs(got['mAP@50'] - expected['mAP@50']) < TOL
    assert abs(got['P@H<=2'] - expected['P@H<=2']) < TOL
    np.testing.assert_allclose(
        got['pr_by_radius']['precision'],
        expected['pr_radius_precision'],
        atol=TOL)
    np.testing.assert_allclose(
        got['pr_by_radius']['recall'], expected['pr_radius_recall'], atol=TOL)
    np.testing.assert_allclose([got['P@10'], got['P@100']],
                               expected['topn_precision'],
                               atol=TOL)
    np.testing.assert_allclose([got['R@10'], got['R@100']],
                               expected['topn_recall'],
                               atol=TOL)


ALL_METRICS = ('mAP', 'MAP@H', 'P@H', 'R@H', 'P@N', 'R@N', 'PR')


@pytest.mark.parametrize('tie_break', ['index', 'average'])
@pytest.mark.parametrize('zero_hit', ['zero', 'exclude'])
def test_torch_backend_is_identical(problem, tie_break, zero_hit, device):
    q, d, ql, dl = problem
    kwargs = dict(
        metrics=ALL_METRICS,
        topk=(None, 7, 40),
        radius=(1, 2),
        precision_at=(3, 50),
        pr_topn=(1, 10, 100),
        zero_hit=zero_hit,
        tie_break=tie_break)
    expected = hamming_retrieval_metrics(q, d, ql, dl, **kwargs)
    got = hamming_retrieval_metrics(
        torch.from_numpy(q).float().to(device),
        torch.from_numpy(d).float().to(device),
        torch.from_numpy(ql).to(device),
        torch.from_numpy(dl).to(device),
        backend='torch',
        block_size=7,
        device=device,
        **kwargs)
    assert_results_equal(got, expected)


def test_torch_backend_takes_numpy_inputs_and_a_device():
    q, d, ql, dl = make_problem(2, 24, multi_label=True)
    kwargs = dict(metrics=('mAP', 'P@N'), topk=(None, 30))
    expected = hamming_retrieval_metrics(q, d, ql, dl, **kwargs)
    assert hamming_retrieval_metrics(
        q, d, ql, dl, backend='torch', **kwargs) == expected
    assert hamming_retrieval_metrics(
        q, d, ql, dl, device=torch.device('cpu'), **kwargs) == expected

