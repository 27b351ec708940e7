import math

import pytest
import torch

from hashplugins.models.losses import (HashQuantizationLoss,
                                       PairwiseLogisticLoss,
                                       pairwise_logistic_loss,
                                       quantization_loss)
from hashplugins.models.utils import label_similarity


def _direct_pairwise(codes, labels, scale, include_self):
    """Loop over pairs, straight from the DPSH formula."""
    n = codes.shape[0]
    total, count = 0., 0
    for i in range(n):
        for j in range(n):
            if i == j and not include_self:
                continue
            s = float((labels[i] * labels[j]).sum() > 0)
            theta = scale * float(codes[i] @ codes[j])
            total += math.log1p(math.exp(theta)) - s * theta
            count += 1
    return total / count


@pytest.mark.parametrize('include_self', [True, False])
@pytest.mark.parametrize('scale', [0.5, 1.0])
def test_pairwise_logistic_matches_direct(include_self, scale):
    g = torch.Generator().manual_seed(0)
    codes = torch.randn(7, 12, generator=g, dtype=torch.float64)
    labels = (torch.rand(7, 5, generator=g) > 0.6).double()
    labels[0] = 0  # an unlabelled-looking row shares nothing
    loss = PairwiseLogisticLoss(scale=scale, include_self_pairs=include_self,
                                loss_weight=2.0)
    expected = 2.0 * _direct_pairwise(codes, labels, scale, include_self)
    assert float(loss(codes, labels)) == pytest.approx(expected, rel=1e-12)


def test_pairwise_logistic_is_stable_for_large_products():
    codes = torch.full((2, 64), 30., dtype=torch.float64)
    sim = torch.ones(2, 2, dtype=torch.float64)
    value = pairwise_logistic_loss(codes, sim, scale=0.5)
    assert torch.isfinite(value)
    # s = 1 and huge theta: log(1 + e^t) - t -> 0
    assert float(value) == pytest.approx(0., abs=1e-12)


def test_label_similarity_multilabel():
    labels = torch.tensor([[1, 0, 1], [0, 1, 0], [0, 0, 1]])
    expected = torch.tensor([[1., 0, 1], [0, 1, 0], [1, 0, 1]])
    assert torch.equal(label_similarity(labels), expected)


def test_quantization_l2_matches_direct():
    codes = torch.tensor([[0.5, -0.2, 0.0], [-1.0, 0.9, 2.0]],
                         dtype=torch.float64)
    # sign(0) = +1
    binary = torch.tensor([[1., -1., 1.], [-1., 1., 1.]], dtype=torch.float64)
    expected = ((codes - binary)**2).mean()
    assert float(quantization_loss(codes, 'l2')) == pytest.approx(
        float(expected), rel=1e-12)


def test_quantization_logcosh_matches_direct_and_gradient():
    codes = torch.tensor([[0.3, -0.99, 0.0, 0.7]], dtype=torch.float64,
                         requires_grad=True)
    expected = torch.log(torch.cosh(codes.detach().abs() - 1)).mean()
    loss = HashQuantizationLoss(mode='logcosh', loss_weight=3.)(codes)
    assert float(loss) == pytest.approx(3 * float(expected), rel=1e-12)
    loss.backward()
    # d/dz log cosh(|z|-1) = sign(z) tanh(|z|-1), mean over 4 entries
    z = codes.detach()
    grad = 3 * torch.sign(z) * torch.tanh(z.abs() - 1) / 4
    assert torch.allclose(codes.grad, grad)


def test_quantization_rejects_unknown_mode():
    with pytest.raises(ValueError, match='logcosh'):
        HashQuantizationLoss(mode='l1')
