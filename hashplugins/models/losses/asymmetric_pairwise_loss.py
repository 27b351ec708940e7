"""Asymmetric pairwise losses: one side's outputs against another side's
fixed targets (the other stream's latest outputs, or the learned codes B),
as in ADSH and DADH. Each is a mean over the (n, m) pairs it is given; the
similarity matrix comes from labels (callers build it for a mini-batch
against the training set, never N x N).
"""
from typing import Optional, Tuple

import torch
import torch.nn as nn
from mmpretrain.registry import MODELS

from .pairwise_logistic_loss import pairwise_logistic_loss
from .utils import float32_loss

SIMILARITY_FORMS = ('signed', 'binary', 'balanced')


def _check_pairs(codes, targets, similarity, owner):
    expected = (codes.shape[0], targets.shape[0])
    if codes.shape[1] != targets.shape[1]:
        raise ValueError(f'{owner}: codes have {codes.shape[1]} bits, '
                         f'targets {targets.shape[1]}')
    if tuple(similarity.shape) != expected:
        raise ValueError(f'{owner}: similarity must be (n, m) = {expected}, '
                         f'got {tuple(similarity.shape)}')


@MODELS.register_module()
class AsymmetricPairwiseLogisticLoss(nn.Module):
    r"""Logistic pairwise likelihood between two sides of asymmetric pairs.

    .. math::
        \Theta_{ij} = \text{scale}\cdot u_i^\top v_j,\qquad
        L = w \cdot \operatorname{mean}_{i,j}\big[\log(1 + e^{\Theta_{ij}})
            - s_{ij}\Theta_{ij}\big]

    DADH's cross-stream term (spec §6.3, loss 1) is this with u = tanh(F)
    of the stream being trained and v = tanh(G) of the other stream (its
    buffered outputs), :math:`\Theta = \tfrac12 \tilde F^\top \tilde G`
    **[TC]** (the third-party code's
    :math:`-\tau(S_{ij}\Theta_{ij} - \log(1+e^{\Theta_{ij}}))`, τ = 10).
    With v = the learned codes B it is the *logistic* form of DADH's
    code <-> feature term (an open question of the spec). It is DPSH's
    likelihood with two different sides: see
    :func:`~hashplugins.models.losses.pairwise_logistic_loss`.

    Args:
        scale (float): Factor on the inner product. Defaults to 0.5.
        loss_weight (float): w (τ for the cross-stream term). Defaults to 1.
    """

    def __init__(self, scale: float = 0.5, loss_weight: float = 1.0):
        super().__init__()
        self.scale = scale
        self.loss_weight = loss_weight

    def forward(self, codes: torch.Tensor, targets: torch.Tensor,
                similarity: torch.Tensor) -> torch.Tensor:
        """Args: codes (n, k) u; targets (m, k) v (treated as constants by
        the caller's detach); similarity (n, m) in {0, 1}.

        Returns:
            torch.Tensor: The weighted scalar loss.
        """
        _check_pairs(codes, targets, similarity, type(self).__name__)
        return self.loss_weight * pairwise_logistic_loss(
            codes, similarity.to(codes.dtype), self.scale, targets=targets)


def similarity_affine(form: str,
                      similar_ratio: Optional[float] = None
                      ) -> Tuple[float, float]:
    r"""(a, b) of the regression target :math:`a s_{ij} + b` of a form.

    * ``'signed'``: :math:`2s - 1 \in \{\pm1\}` (ADSH paper, DADH spec);
    * ``'binary'``: s;
    * ``'balanced'``: :math:`s(1 + r) - r`, r = #similar / #dissimilar
      pairs (DeepHash-pytorch's ADSH "soft constraint"): dissimilar pairs
      get the target -r·c instead of -c, which k-bit codes of many classes
      can reach (with 'signed', all features anti-aligned to one common
      code fit the 90% dissimilar pairs of a 10-class set better than
      class codes do, and the codes collapse).

    Args:
        form (str): One of ``SIMILARITY_FORMS``.
        similar_ratio (float, optional): r, needed for 'balanced'.

    Returns:
        tuple: (a, b).
    """
    if form == 'signed':
        return 2., -1.
    if form == 'binary':
        return 1., 0.
    if form == 'balanced':
        if similar_ratio is None:
            raise ValueError("similarity='balanced' needs the ratio r")
        return 1. + similar_ratio, -similar_ratio
    raise ValueError(f'similarity must be one of {SIMILARITY_FORMS}, got '
                     f'{form!r}')


@float32_loss
def asymmetric_inner_product_loss(codes: torch.Tensor,
                                  targets: torch.Tensor,
                                  similarity: torch.Tensor,
                                  target_scale: Optional[float] = None,
                                  affine: Tuple[float, float] = (2., -1.)
                                  ) -> torch.Tensor:
    r"""Inner products regressed onto scaled similarities (ADSH-style).

    .. math::
        L = \operatorname{mean}_{i,j}\big(u_i^\top v_j
            - c\,(a s_{ij} + b)\big)^2

    Args:
        codes (torch.Tensor): (n, k) u.
        targets (torch.Tensor): (m, k) v.
        similarity (torch.Tensor): (n, m) in {0, 1}.
        target_scale (float, optional): c; None means k (the code length),
            so that a perfect ±1 code pair hits the target exactly.
        affine (tuple): (a, b); (2, -1) is :math:`\tilde S = 2S - 1`.

    Returns:
        torch.Tensor: Scalar, the mean over the n·m pairs.

    Computed in float32 under AMP
    (:func:`~hashplugins.models.losses.utils.float32_loss`): the
    regression of k-bit inner products onto ±k needs more than the 8 bits
    of a bfloat16 matmul.
    """
    scale = codes.shape[1] if target_scale is None else target_scale
    a, b = affine
    target = scale * (a * similarity.to(codes.dtype) + b)
    return (codes @ targets.t() - target).pow(2).mean()


@MODELS.register_module()
class AsymmetricInnerProductLoss(nn.Module):
    r"""Feature <-> code inner-product regression (DADH loss 2, ADSH form).

    .. math::
        L = w \cdot \operatorname{mean}_{i,j}\big(\tilde f_i^\top b_j
            - c\,(a s_{ij} + b)\big)^2

    DADH's second asymmetric loss in the spec's reconstruction **[I]**
    (:math:`\lVert \tilde F^\top B - k\tilde S \rVert_F^2`, matching the
    third-party code's :math:`\lVert \tanh(u_i)^\top B - kS \rVert` with
    S in {±1} **[TC]**). The similarity form (``'signed'``, ``'binary'``,
    ``'balanced'``; see :func:`similarity_affine`) and the weight are open
    questions of the spec, hence arguments.

    Args:
        target_scale (float, optional): c; None means k. Defaults to None.
        similarity (str): ``'signed'`` (default), ``'binary'`` or
            ``'balanced'``.
        loss_weight (float): w (μ). Defaults to 1.
    """

    def __init__(self,
                 target_scale: Optional[float] = None,
                 similarity: str = 'signed',
                 loss_weight: float = 1.0):
        super().__init__()
        if similarity not in SIMILARITY_FORMS:
            raise ValueError(f'AsymmetricInnerProductLoss: similarity must '
                             f'be one of {SIMILARITY_FORMS}, got '
                             f'{similarity!r}')
        self.target_scale = target_scale
        self.similarity = similarity
        self.loss_weight = loss_weight

    def forward(self,
                codes: torch.Tensor,
                targets: torch.Tensor,
                similarity: torch.Tensor,
                similar_ratio: Optional[float] = None) -> torch.Tensor:
        """Args: codes (n, k) tanh features; targets (m, k) codes B;
        similarity (n, m) in {0, 1}; similar_ratio r for 'balanced'
        (default: from this similarity block, as DeepHash-pytorch does).

        Returns:
            torch.Tensor: The weighted scalar loss.
        """
        _check_pairs(codes, targets, similarity, type(self).__name__)
        if self.similarity == 'balanced' and similar_ratio is None:
            similar = float(similarity.sum())
            similar_ratio = similar / max(similarity.numel() - similar, 1.)
        return self.loss_weight * asymmetric_inner_product_loss(
            codes, targets, similarity, self.target_scale,
            similarity_affine(self.similarity, similar_ratio))
