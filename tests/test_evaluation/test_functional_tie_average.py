"""The 'average' tie policy: exact expectations over uniformly random
orders of tied items, checked against brute-force enumeration of every
tie order on tiny inputs (to 1e-9), and its numerics at larger scale
against an independent exact-combinatorics evaluation."""
import itertools
import math
from fractions import Fraction

import numpy as np
import pytest

from hashplugins.evaluation.functional import (map_within_radius,
                                               mean_average_precision,
                                               pr_curve_by_topn)
from hashplugins.evaluation.functional.tie_average import (bucket_sums,
                                                           digamma_difference,
                                                           exclusion_weights,
                                                           expected_ap)

from . import reference as ref
from .synthetic import make_labels

TOL = 1e-9


def tiny_problem(seed):
    """3 queries, 3-7 database items, 2-4 bits: heavy ties, and few enough
    orders to enumerate."""
    rng = np.random.default_rng(seed)
    bits = int(rng.integers(2, 5))
    num_db = int(rng.integers(3, 8))
    multi = seed % 2 == 1
    q_labels = make_labels(rng, 3, 3, multi)
    db_labels = make_labels(rng, num_db, 3, multi)
    q = rng.choice([-1.0, 1.0], size=(3, bits))
    d = rng.choice([-1.0, 1.0], size=(num_db, bits))
    return q, d, q_labels, db_labels


@pytest.mark.parametrize('seed', range(16))
def test_map_at_k_equals_brute_force(seed):
    q, d, ql, dl = tiny_problem(seed)
    for topk in [None] + list(range(1, len(d) + 1)):
        k = len(d) if topk is None else topk
        outcomes = ref.brute_force_outcomes(
            q, d, ql, dl, lambda g, h:
            (ref.ap_of_list(g[:k]), bool(g[:k].any())))
        zero = mean_average_precision(q, d, ql, dl, topk, tie_break='average')
        exclude = mean_average_precision(
            q, d, ql, dl, topk, zero_hit='exclude', tie_break='average')
        assert abs(zero - ref.expected_mean(outcomes)) < TOL
        assert abs(exclude - ref.expected_exclude_mean(outcomes)) < TOL


@pytest.mark.parametrize('seed', range(8))
def test_radius_map_and_top_n_equal_brute_force(seed):
    q, d, ql, dl = tiny_problem(100 + seed)
    for radius in range(q.shape[1] + 1):
        outcomes = ref.brute_force_outcomes(
            q, d, ql, dl, lambda g, h: ref.ap_of_list(g[h <= radius]))
        got = map_within_radius(q, d, ql, dl, radius, tie_break='average')
        assert abs(got - ref.expected_mean(outcomes)) < TOL
    ns = list(range(1, len(d) + 2))
    curve = pr_curve_by_topn(q, d, ql, dl, ns, tie_break='average')
    for j, n in enumerate(ns):
        m = min(n, len(d))
        prec = ref.brute_force_outcomes(q, d, ql, dl,
                                        lambda g, h: g[:m].sum() / m)
        rec = ref.brute_force_outcomes(
            q, d, ql, dl, lambda g, h: g[:m].sum() / g.sum()
            if g.sum() else 0.0)
        assert abs(curve['precision'][j] - ref.expected_mean(prec)) < TOL
        assert abs(curve['recall'][j] - ref.expected_mean(rec)) < TOL


def test_equals_mean_over_all_database_permutations():
    """For the query-wise linear 'zero' mean, drawing tie orders per query
    or shuffling the shared database gives the same expectation: average
    of the 'index' policy over all 6! database orders."""
    q, d, ql, dl = tiny_problem(7)
    d, dl = d[:6], dl[:6]
    for topk in (None, 2, 4):
        perms = list(itertools.permutations(range(len(d))))
        brute = np.mean([
            mean_average_precision(q, d[list(p)], ql, dl[list(p)], topk)
            for p in perms
        ])
        got = mean_average_precision(q, d, ql, dl, topk, tie_break='average')
        assert abs(got - brute) < TOL


def test_average_differs_from_index_when_order_matters():
    # One query, database [irrelevant, relevant] at the same distance.
    q = np.array([[1.0, 1.0]])
    d = np.array([[1.0, -1.0], [-1.0, 1.0]])
    ql, dl = np.array([0]), np.array([1, 0])
    exact = pytest.approx  # the average policy is exact up to rounding
    assert mean_average_precision(q, d, ql, dl) == 0.5  # relevant 2nd
    assert mean_average_precision(
        q, d, ql, dl, tie_break='average') == exact(0.75)
    assert mean_average_precision(q, d, ql, dl, topk=1) == 0.0
    assert mean_average_precision(
        q, d, ql, dl, topk=1, tie_break='average') == exact(0.5)
    assert mean_average_precision(
        q, d, ql, dl, topk=1, zero_hit='exclude',
        tie_break='average') == exact(0.5)


def test_digamma_difference_against_direct_sums():
    for x, n in [(1, 0), (1, 1), (1, 7), (3, 50), (19, 2), (20, 1000),
                 (1234, 5), (99999, 1), (99999, 30000), (5e5, 2e5)]:
        direct = math.fsum(1.0 / (x + j) for j in range(int(n)))
        got = float(digamma_difference(np.array([x]), np.array([n]))[0])
        assert got == pytest.approx(direct, rel=1e-13, abs=1e-300)
    s1, s2 = bucket_sums(np.array([12345.0]), np.array([17.0]))
    assert s2[0] == pytest.approx(
        math.fsum((j - 1) / (12345 + j) for j in range(1, 18)), rel=1e-9)


def exact_expected_ap(h_all, h_rel, k):
    """E[AP@k] of one query by exact rational combinatorics (independent
    of the vectorized code): full buckets term by term, the cut bucket
    summed over the hypergeometric count of relevant items kept."""
    total = Fraction(0)
    before = rel_before = 0
    prior = Fraction(0)
    for n, r in zip(h_all, h_rel):
        n, r = int(n), int(r)
        if n == 0:
            continue
        m = min(n, k - before)
        if m <= 0:
            break
        cut = m < n

        def bucket_sum(m, x):  # E[sum of hits/position | x relevant kept]
            return sum(
                Fraction(x, m) *
                (rel_before + 1 + Fraction((j - 1) *
                                           (x - 1), m - 1 if m > 1 else 1)) /
                (before + j) for j in range(1, m + 1)) if x else Fraction(0)

        if not cut:
            prior += bucket_sum(n, r)
        else:
            for x in range(max(0, m - (n - r)), min(r, m) + 1):
                p = Fraction(
                    math.comb(r, x) * math.comb(n - r, m - x), math.comb(n, m))
                if rel_before + x:
                    total += p * (prior + bucket_sum(m, x)) / (rel_before + x)
            return float(total)
        before += n
        rel_before += r
    return float(prior / rel_before) if rel_before else 0.0


def test_expected_ap_numerics_at_scale():
    rng = np.random.default_rng(0)
    h_all = rng.integers(0, 40, size=(12, 9))
    h_all[:, 0] = rng.integers(1, 5, size=12)
    h_rel = rng.binomial(h_all, 0.4)
    n_total = h_all.sum(axis=1)
    k = np.array([rng.integers(1, t + 1) for t in n_total])
    got, _ = expected_ap(h_all, h_rel, k)
    for i in range(len(k)):
        assert got[i] == pytest.approx(
            exact_expected_ap(h_all[i], h_rel[i], int(k[i])), abs=1e-12)


def test_exclusion_weights_against_enumeration():
    p = np.array([1.0, 0.0, 0.3, 0.7, 1.0, 0.5, 0.05, 0.95])
    weights = exclusion_weights(p)
    for q in range(len(p)):
        if p[q] == 0:
            assert weights[q] == 0
            continue
        others = [i for i in range(len(p)) if i != q]
        expected = 0.0
        for hits in itertools.product((0, 1), repeat=len(others)):
            prob = np.prod(
                [p[i] if h else 1 - p[i] for i, h in zip(others, hits)])
            expected += prob / (1 + sum(hits))
        assert weights[q] == pytest.approx(expected, abs=1e-12)
