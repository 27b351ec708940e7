"""Contrastive loss on squared code distances with an L1 binary prior
(DSH)."""
import math
from typing import Optional

import torch
import torch.nn as nn
from mmpretrain.models.losses.utils import weight_reduce_loss
from mmpretrain.registry import MODELS

from ..utils import label_similarity
from .utils import float32_loss

REDUCTIONS = ('none', 'mean', 'sum')


def _check_args(owner: str, margin, reg_weight, reduction) -> None:
    def number(value):
        return (isinstance(value, (int, float))
                and not isinstance(value, bool) and math.isfinite(value))

    if margin is not None and not (number(margin) and margin > 0):
        raise ValueError(f'{owner}: margin must be None (2 x bits) or a '
                         f'positive number, got {margin!r}')
    if not (number(reg_weight) and reg_weight >= 0):
        raise ValueError(f'{owner}: reg_weight must be a number >= 0, got '
                         f'{reg_weight!r}')
    if reduction not in REDUCTIONS:
        raise ValueError(f'{owner}: reduction must be one of {REDUCTIONS}, '
                         f'got {reduction!r}')


@float32_loss
def pairwise_contrastive_loss(codes: torch.Tensor,
                              similarity: torch.Tensor,
                              margin: Optional[float] = None,
                              reg_weight: float = 0.01,
                              reduction: str = 'mean',
                              avg_factor: Optional[float] = None
                              ) -> torch.Tensor:
    r"""DSH's relaxed pairwise loss over the unique pairs of the batch.

    .. math::
        D_{ij} = \|b_i - b_j\|_2^2,\qquad
        L = \sum_{i<j} \Big[\tfrac12 s_{ij} D_{ij}
            + \tfrac12 (1 - s_{ij}) \max(m - D_{ij}, 0)
            + \alpha\big(\||b_i| - \mathbf 1\|_1
                         + \||b_j| - \mathbf 1\|_1\big)\Big]

    (Liu et al., CVPR 2016, eqs. 3-4, with :math:`s_{ij} = 1` for similar
    pairs, the paper's :math:`y = 1 - s`), on real-valued outputs
    :math:`b` (no squashing), over all unique pairs :math:`i < j` of the
    mini-batch as the paper and its code generate them. The regulariser
    sits inside the pair sum as in the paper, so under ``'mean'`` it
    weighs :math:`2\alpha` per image; ``reg_weight=0`` leaves the
    contrastive part alone. Computed in float32 under AMP.

    Reduction: ``'sum'`` is :math:`L`; ``'mean'`` divides by the number of
    unique pairs :math:`N(N-1)/2` (the official code's normalisation);
    ``'none'`` gives the (N, N) matrix of pair terms, 0 on and below the
    diagonal.

    Args:
        codes (torch.Tensor): Real-valued outputs b, shape (N, B).
        similarity (torch.Tensor): (N, N) pairwise labels in {0, 1}.
        margin (float, optional): m; None for 2B (the paper's). Defaults
            to None.
        reg_weight (float): :math:`\alpha`. Defaults to 0.01 (the paper's).
        reduction (str): ``'none'``, ``'mean'`` or ``'sum'``. Defaults to
            ``'mean'``.
        avg_factor (float, optional): Divisor of ``'mean'`` instead of
            the number of pairs.

    Returns:
        torch.Tensor: The reduced loss, or (N, N) with ``'none'``.
    """
    _check_args('pairwise_contrastive_loss', margin, reg_weight, reduction)
    n, bits = codes.shape
    m = 2. * bits if margin is None else margin
    sq_norms = codes.pow(2).sum(1)
    # |a|^2 + |b|^2 - 2 a.b: (N, N) memory instead of (N, N, B); the clamp
    # removes the rounding below 0 for (near-)equal codes
    dist = (sq_norms[:, None] + sq_norms[None, :] -
            2 * codes @ codes.t()).clamp(min=0)
    prior = (codes.abs() - 1).abs().sum(1)
    pair = (0.5 * similarity * dist +
            0.5 * (1 - similarity) * (m - dist).clamp(min=0) +
            reg_weight * (prior[:, None] + prior[None, :]))
    unique = torch.ones_like(pair).triu_(diagonal=1)
    if reduction == 'mean' and avg_factor is None:
        # one image has no pair: 0 (the numerator is 0 too)
        avg_factor = max(n * (n - 1) // 2, 1)
    return weight_reduce_loss(pair, unique, reduction, avg_factor)


@MODELS.register_module()
class PairwiseContrastiveLoss(nn.Module):
    """DSH's contrastive loss with its binary prior over the (global)
    batch; see :func:`pairwise_contrastive_loss`.

    Args:
        margin (float, optional): m; None for 2 x bits. Defaults to None.
        reg_weight (float): :math:`\\alpha` of the prior
            :math:`\\||b| - 1\\|_1`. Defaults to 0.01.
        reduction (str): ``'none'``, ``'mean'`` or ``'sum'``. Defaults to
            ``'mean'``.
        loss_weight (float): Weight of the loss. Defaults to 1.0.
    """

    min_samples_per_batch = 2  # pairs within the batch it is given

    def __init__(self,
                 margin: Optional[float] = None,
                 reg_weight: float = 0.01,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0):
        super().__init__()
        _check_args(type(self).__name__, margin, reg_weight, reduction)
        self.margin = margin
        self.reg_weight = reg_weight
        self.reduction = reduction
        self.loss_weight = loss_weight

    def forward(self,
                codes: torch.Tensor,
                labels: torch.Tensor,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None) -> torch.Tensor:
        """Args: codes (N, B) real-valued outputs; labels (N, C) multi-hot;
        avg_factor and reduction_override as in mmpretrain's losses.

        Returns:
            torch.Tensor: The weighted loss.
        """
        similarity = label_similarity(labels).to(codes.dtype)
        return self.loss_weight * pairwise_contrastive_loss(
            codes, similarity, self.margin, self.reg_weight,
            reduction_override or self.reduction, avg_factor)
