"""The B-step: blockwise similarity products, the objective J(B) against a
dense N x N computation, DCC monotonicity and exactness, the closed form,
and that no N x N matrix is ever formed."""
import itertools

import pytest
import torch
import torch.nn.functional as F

from hashplugins.models.utils import (LogisticCodeProblem, closed_form_update,
                                      dcc_update, inner_product_code_objective,
                                      label_similarity, similar_pair_count,
                                      similarity_matmul)
from hashplugins.models.utils import blockwise_similarity

torch.set_num_threads(1)
AFFINES = {'signed': (2., -1.), 'binary': (1., 0.), 'balanced': (1.25, -.25)}


def _labels(n, c=4, multi=True, seed=0):
    g = torch.Generator().manual_seed(seed)
    if multi:
        labels = (torch.rand(n, c, generator=g) < 0.35).double()
        labels[0] = 0  # a row sharing nothing (similar to nobody)
        return labels
    return F.one_hot(torch.randint(c, (n, ), generator=g), c).double()


def _streams(n, k, streams=2, seed=1):
    g = torch.Generator().manual_seed(seed)
    raw = [2 * torch.randn(n, k, generator=g, dtype=torch.float64)
           for _ in range(streams)]
    return raw, [x.tanh() for x in raw]


def _codes(n, k, seed=2):
    g = torch.Generator().manual_seed(seed)
    return torch.where(torch.rand(n, k, generator=g) < .5, -1.,
                       1.).double()


@pytest.mark.parametrize('multi', [False, True])
@pytest.mark.parametrize('block_size', [1, 3, 1024])
def test_similarity_products_match_dense(multi, block_size):
    labels = _labels(40, multi=multi)
    x = torch.randn(40, 5, dtype=torch.float64)
    dense = label_similarity(labels).double()
    for a, b in AFFINES.values():
        got = similarity_matmul(labels, x, a, b, block_size=block_size)
        assert torch.allclose(got, (a * dense + b) @ x, atol=1e-10)
    assert similar_pair_count(labels, block_size) == int(dense.sum())


def _dense_regression_j(codes, soft, gap, labels, mu, gamma, c, affine):
    target = c * (affine[0] * label_similarity(labels).double() + affine[1])
    value = sum(float((f @ codes.t() - target).pow(2).sum()) for f in soft)
    return mu * value + gamma * sum(
        float((x - codes).pow(2).sum()) for x in gap)


def _dense_logistic_j(codes, soft, gap, labels, mu, gamma, scale):
    sim = label_similarity(labels).double()
    value = 0.
    for f in soft:
        theta = scale * f @ codes.t()
        value += float((F.softplus(theta) - sim * theta).sum())
    return mu * value + gamma * sum(
        float((x - codes).pow(2).sum()) for x in gap)


@pytest.mark.parametrize('form', sorted(AFFINES))
@pytest.mark.parametrize('tanh_gap', [False, True])
def test_regression_objective_equals_dense(form, tanh_gap):
    n, k = 30, 6
    labels = _labels(n)
    raw, soft = _streams(n, k)
    gap = soft if tanh_gap else raw
    objective = inner_product_code_objective(
        soft, gap, labels, code_weight=0.7, gap_weight=3., target_scale=None,
        affine=AFFINES[form], block_size=4)
    for seed in range(3):
        codes = _codes(n, k, seed)
        dense = _dense_regression_j(codes, soft, gap, labels, 0.7, 3., k,
                                    AFFINES[form])
        assert objective(codes) == pytest.approx(dense, rel=1e-10)


def test_logistic_objective_and_majorizer():
    n, k = 25, 5
    labels = _labels(n)
    raw, soft = _streams(n, k)
    codes0 = _codes(n, k)
    problem = LogisticCodeProblem(soft, raw, labels, 2., 0.5, scale=0.5,
                                  block_size=7)
    exact = problem.objective(codes0)
    dense = _dense_logistic_j(codes0, soft, raw, labels, 2., 0.5, 0.5)
    assert exact == pytest.approx(dense, rel=1e-10)
    surrogate = problem.surrogate(codes0)
    assert surrogate(codes0) == pytest.approx(exact, rel=1e-10)
    for seed in range(10):  # an upper bound everywhere
        other = _codes(n, k, seed + 10)
        assert surrogate(other) >= problem.objective(other) - 1e-8


@pytest.mark.parametrize('form', sorted(AFFINES))
@pytest.mark.parametrize('streams', [1, 2])
def test_dcc_sweep_never_increases_j(form, streams):
    n, k = 60, 8
    labels = _labels(n, multi=form != 'balanced')
    for seed in range(5):
        raw, soft = _streams(n, k, streams, seed)
        objective = inner_product_code_objective(
            soft, raw, labels, 1., 2., affine=AFFINES[form])
        codes = _codes(n, k, seed)
        before = objective(codes)
        for _ in range(3):
            codes = dcc_update(codes, objective, sweeps=1)
            after = objective(codes)
            assert after <= before + 1e-9 * abs(before)
            before = after
        assert set(codes.unique().tolist()) <= {-1., 1.}


def test_dcc_on_logistic_majorizer_never_increases_true_j():
    n, k = 30, 6
    labels = _labels(n)
    raw, soft = _streams(n, k)
    codes = _codes(n, k)
    problem = LogisticCodeProblem(soft, raw, labels, 1., 1.)
    for _ in range(3):  # majorize-minimize iterations
        before = problem.objective(codes)
        codes = dcc_update(codes, problem.surrogate(codes), sweeps=2)
        assert problem.objective(codes) <= before + 1e-9


def _row_minimum(objective, k):
    """Exhaustive minimum of J over B: it separates over the rows b_j, so
    each row's best of the 2^k codes is found independently."""
    candidates = torch.tensor(list(itertools.product([-1., 1.], repeat=k)),
                              dtype=torch.float64)
    quad = ((candidates @ objective.P) * candidates).sum(1)  # (2^k,)
    values = quad[None, :] + objective.Q @ candidates.t()  # (N, 2^k)
    best = values.min(1).values.sum()
    return float(best) + objective.const


def test_dcc_is_exact_for_one_bit():
    n = 40
    labels = _labels(n)
    raw, soft = _streams(n, 1)
    objective = inner_product_code_objective(soft, raw, labels, 1., 5.)
    codes = dcc_update(_codes(n, 1), objective)
    assert objective(codes) == pytest.approx(_row_minimum(objective, 1),
                                             rel=1e-12)


def test_dcc_is_exact_when_the_bits_separate():
    # Orthogonal feature columns make P diagonal: J separates over rows and
    # bits, and one sweep must hit the exhaustive minimum. Scales that are
    # binary fractions keep the off-diagonal sums exactly 0 whatever order
    # the BLAS kernel adds them in (0.6/0.3 left 1e-17 residues on some CPUs).
    n, k = 32, 4
    hadamard = torch.ones(1, 1, dtype=torch.float64)
    while hadamard.shape[0] < n:
        hadamard = torch.cat([torch.cat([hadamard, hadamard], 1),
                              torch.cat([hadamard, -hadamard], 1)])
    soft = [0.5 * hadamard[:, 1:k + 1], 0.25 * hadamard[:, k + 1:2 * k + 1]]
    raw = [torch.atanh(x) for x in soft]
    labels = _labels(n, multi=False)
    objective = inner_product_code_objective(soft, raw, labels, 1., 2.)
    assert torch.count_nonzero(objective.P - torch.diag(
        torch.diag(objective.P))) == 0
    codes = dcc_update(_codes(n, k), objective, sweeps=1)
    assert objective(codes) == pytest.approx(_row_minimum(objective, k),
                                             rel=1e-12)


def test_dcc_reaches_a_coordinatewise_minimum_for_tiny_k():
    n, k = 20, 3
    labels = _labels(n)
    raw, soft = _streams(n, k)
    objective = inner_product_code_objective(soft, raw, labels, 1., 1.)
    codes = dcc_update(_codes(n, k), objective, sweeps=10)
    value = objective(codes)
    assert value >= _row_minimum(objective, k) - 1e-9
    for j, r in itertools.product(range(n), range(k)):  # no single flip helps
        flipped = codes.clone()
        flipped[j, r] *= -1
        assert objective(flipped) >= value - 1e-9


def test_closed_form_is_sign_of_minus_q_and_exact_without_quadratic():
    n, k = 30, 4
    labels = _labels(n)
    raw, soft = _streams(n, k)
    # code_weight 0 drops the quadratic term: sign(-Q) is then the minimum
    objective = inner_product_code_objective(soft, raw, labels, 0., 3.)
    codes = closed_form_update(objective)
    assert torch.equal(codes, torch.where(objective.Q <= 0, 1., -1.).double())
    assert objective(codes) == pytest.approx(_row_minimum(objective, k),
                                             rel=1e-12)
    # with the regression term: sign(mu c S~ (F~ + G~) + gamma (F + G))
    full = inner_product_code_objective(soft, raw, labels, 1., 3.)
    s_tilde = 2 * label_similarity(labels).double() - 1
    expected = torch.where(k * s_tilde @ sum(soft) + 3. * sum(raw) >= 0, 1.,
                           -1.).double()
    assert torch.equal(closed_form_update(full), expected)


def test_no_n_by_n_matrix_is_formed(monkeypatch):
    n, k = 3000, 8
    g = torch.Generator().manual_seed(0)
    # multi-label rows drawn from 40 label sets: U = 40 << N
    sets = (torch.rand(40, 6, generator=g) < 0.4).double()
    labels = sets[torch.randint(40, (n, ), generator=g)]
    largest = []
    original = blockwise_similarity.label_similarity

    def spy(a, b=None):
        out = original(a, b)
        largest.append(out.numel())
        return out

    monkeypatch.setattr(blockwise_similarity, 'label_similarity', spy)
    raw, soft = _streams(n, k)
    objective = inner_product_code_objective(soft, raw, labels, 1., 1.,
                                             block_size=16)
    dcc_update(_codes(n, k), objective)
    assert largest and max(largest) <= 16 * 40 < n * n
