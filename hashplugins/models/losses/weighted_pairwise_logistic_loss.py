"""Similar/dissimilar-weighted pairwise logistic likelihood (HashNet)."""
import math
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.models.losses.utils import weight_reduce_loss
from mmpretrain.registry import MODELS

from ..utils import label_similarity
from .utils import float32_loss

REDUCTIONS = ('none', 'mean', 'sum')


def _is_number(value) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def _check_args(owner: str, scale, weighted, pos_weight, include_self_pairs,
                reduction) -> None:
    if scale is not None and not (_is_number(scale) and scale > 0):
        raise ValueError(f'{owner}: scale must be None (10 / bits) or a '
                         f'positive number, got {scale!r}')
    if not isinstance(weighted, bool):
        raise ValueError(f'{owner}: weighted must be True or False, got '
                         f'{weighted!r}')
    if pos_weight is not None:
        if not (_is_number(pos_weight) and pos_weight > 0):
            raise ValueError(f'{owner}: pos_weight must be None (weights '
                             'from the batch) or a positive number, got '
                             f'{pos_weight!r}')
        if not weighted:
            raise ValueError(f'{owner}: pos_weight={pos_weight!r} needs '
                             'weighted=True (weighted=False weighs every '
                             'pair 1)')
    if not isinstance(include_self_pairs, bool):
        raise ValueError(f'{owner}: include_self_pairs must be True or '
                         f'False, got {include_self_pairs!r}')
    if reduction not in REDUCTIONS:
        raise ValueError(f'{owner}: reduction must be one of {REDUCTIONS}, '
                         f'got {reduction!r}')


def pair_weights(similarity: torch.Tensor,
                 counted: torch.Tensor,
                 weighted: bool = True,
                 pos_weight: Optional[float] = None) -> torch.Tensor:
    r"""HashNet's weights :math:`w_{ij}` of the counted pairs.

    .. math::
        w_{ij} = \begin{cases} |S| / |S_1| & s_{ij} = 1 \\
                               |S| / |S_0| & s_{ij} = 0 \end{cases}

    with :math:`S` the counted pairs of the batch and :math:`S_1, S_0` its
    similar and dissimilar ones (``pos_weight=None``); or ``pos_weight``
    for similar and 1 for dissimilar pairs (the official code's fixed
    ``class_num``); or 1 for all (``weighted=False``). An empty group has
    no pairs to weigh. Uncounted pairs weigh 0.

    Args:
        similarity (torch.Tensor): (N, N) pairwise labels in {0, 1}.
        counted (torch.Tensor): (N, N) 0/1 mask of the pairs that count.
        weighted (bool): Weigh similar and dissimilar pairs apart.
        pos_weight (float, optional): Fixed weight of similar pairs.

    Returns:
        torch.Tensor: (N, N) weights, without gradient.
    """
    if not weighted:
        return counted
    similar = similarity * counted
    if pos_weight is None:
        num_all = counted.sum()
        num_similar = similar.sum()
        # clamp: an empty group's weight multiplies no pair, so any finite
        # value does; the counts stay on the device (no host read)
        w_similar = num_all / num_similar.clamp(min=1)
        w_dissimilar = num_all / (num_all - num_similar).clamp(min=1)
    else:
        w_similar, w_dissimilar = pos_weight, 1.
    return similar * w_similar + (counted - similar) * w_dissimilar


@float32_loss
def weighted_pairwise_logistic_loss(codes: torch.Tensor,
                                    similarity: torch.Tensor,
                                    scale: Optional[float] = None,
                                    weighted: bool = True,
                                    pos_weight: Optional[float] = None,
                                    include_self_pairs: bool = False,
                                    reduction: str = 'mean',
                                    avg_factor: Optional[float] = None
                                    ) -> torch.Tensor:
    r"""HashNet's weighted maximum-likelihood loss on code inner products.

    .. math::
        \Theta_{ij} = \alpha\, h_i^\top h_j,\qquad
        \ell_{ij} = \log(1 + e^{\Theta_{ij}}) - s_{ij}\Theta_{ij},\qquad
        L = \sum_{(i,j) \in S} w_{ij}\, \ell_{ij}

    (Cao et al., ICCV 2017, eq. 4 with :math:`c_{ij} = 1`), over the
    ordered pairs :math:`S` of the batch (the diagonal only with
    ``include_self_pairs``), :math:`w_{ij}` from :func:`pair_weights`.
    ``log(1 + e^x)`` is evaluated as softplus (stable for any
    :math:`\Theta`; the official code's linear branch above 15 differs
    from it by less than :math:`e^{-15}`), in float32 under AMP.

    Reduction: ``'sum'`` is :math:`L` as written; ``'mean'`` divides it
    by :math:`\sum w_{ij}` (a weighted mean, the official code's
    normalisation; with batch weights it is the mean of the similar and
    the dissimilar pairs' mean losses); ``'none'`` gives the (N, N)
    matrix :math:`w_{ij}\ell_{ij}` (0 for uncounted pairs).

    Args:
        codes (torch.Tensor): Continuous codes h, shape (N, B).
        similarity (torch.Tensor): (N, N) pairwise labels in {0, 1}.
        scale (float, optional): :math:`\alpha`; None for 10 / B (the
            official code's rule). Defaults to None.
        weighted (bool): Weigh similar/dissimilar pairs (HashNet); False
            weighs all pairs 1 (DPSH-like). Defaults to True.
        pos_weight (float, optional): With ``weighted``, a fixed weight of
            similar pairs (dissimilar: 1), the official ``class_num``;
            None takes the batch's :math:`|S|/|S_1|, |S|/|S_0|`.
            Defaults to None.
        include_self_pairs (bool): Count the N pairs (i, i). Defaults to
            False.
        reduction (str): ``'none'``, ``'mean'`` or ``'sum'``. Defaults to
            ``'mean'``.
        avg_factor (float, optional): Divisor of ``'mean'`` instead of
            :math:`\sum w_{ij}`.

    Returns:
        torch.Tensor: The reduced loss, or (N, N) with ``'none'``.
    """
    _check_args('weighted_pairwise_logistic_loss', scale, weighted,
                pos_weight, include_self_pairs, reduction)
    n, bits = codes.shape
    alpha = 10. / bits if scale is None else scale
    theta = alpha * codes @ codes.t()
    nll = F.softplus(theta) - similarity * theta
    counted = torch.ones_like(nll)
    if not include_self_pairs:
        counted.fill_diagonal_(0.)
    weight = pair_weights(similarity.detach(), counted, weighted, pos_weight)
    if reduction == 'mean' and avg_factor is None:
        total = weight.sum()
        # no counted pair (one image, no self pairs): the loss is 0
        avg_factor = torch.where(total > 0, total, torch.ones_like(total))
    return weight_reduce_loss(nll, weight, reduction, avg_factor)


@MODELS.register_module()
class WeightedPairwiseLogisticLoss(nn.Module):
    """HashNet's weighted pairwise likelihood over the (global) batch.

    See :func:`weighted_pairwise_logistic_loss` for the formula.

    Args:
        scale (float, optional): :math:`\\alpha`; None for 10 / bits.
            Defaults to None.
        weighted (bool): Similar/dissimilar weighting. Defaults to True.
        pos_weight (float, optional): Fixed similar-pair weight (the
            official ``class_num``); None for the batch's counts.
            Defaults to None.
        include_self_pairs (bool): Count the (i, i) pairs. Defaults to
            False.
        reduction (str): ``'none'``, ``'mean'`` or ``'sum'``. Defaults to
            ``'mean'``.
        loss_weight (float): Weight of the loss. Defaults to 1.0.
    """

    min_samples_per_batch = 2  # pairs within the batch it is given

    def __init__(self,
                 scale: Optional[float] = None,
                 weighted: bool = True,
                 pos_weight: Optional[float] = None,
                 include_self_pairs: bool = False,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0):
        super().__init__()
        _check_args(type(self).__name__, scale, weighted, pos_weight,
                    include_self_pairs, reduction)
        self.scale = scale
        self.weighted = weighted
        self.pos_weight = pos_weight
        self.include_self_pairs = include_self_pairs
        self.reduction = reduction
        self.loss_weight = loss_weight

    def forward(self,
                codes: torch.Tensor,
                labels: torch.Tensor,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None) -> torch.Tensor:
        """Args: codes (N, B) continuous codes; labels (N, C) multi-hot;
        avg_factor and reduction_override as in mmpretrain's losses.

        Returns:
            torch.Tensor: The weighted loss.
        """
        similarity = label_similarity(labels).to(codes.dtype)
        return self.loss_weight * weighted_pairwise_logistic_loss(
            codes, similarity, self.scale, self.weighted, self.pos_weight,
            self.include_self_pairs, reduction_override or self.reduction,
            avg_factor)
