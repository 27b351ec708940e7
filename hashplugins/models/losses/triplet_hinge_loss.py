"""Triplet hinge on given (anchor, positive, negative) code triplets."""
from typing import Optional

import torch
import torch.nn as nn
from mmpretrain.models.losses.utils import weight_reduce_loss
from mmpretrain.registry import MODELS

from .utils import float32_loss


@float32_loss
def triplet_hinge_loss(anchor: torch.Tensor,
                       positive: torch.Tensor,
                       negative: torch.Tensor,
                       margin: float = 1.0,
                       weight: Optional[torch.Tensor] = None,
                       reduction: str = 'mean',
                       avg_factor: Optional[float] = None) -> torch.Tensor:
    r""":math:`\max(0,\ m - \|h - h^-\|^2 + \|h - h^+\|^2)` per triplet
    (row), the relaxed Hamming triplet loss of DSH-GANs (blog eq. 3, m = 1,
    codes in [0, 1]^K), reduced as mmpretrain's losses are.

    Args:
        anchor (torch.Tensor): (N, q) codes of the anchors.
        positive (torch.Tensor): (N, q) codes of their positives.
        negative (torch.Tensor): (N, q) codes of their negatives.
        margin (float): m. Defaults to 1.0.
        weight (torch.Tensor, optional): (N,) per-triplet weights.
        reduction (str): ``'none'``, ``'mean'`` or ``'sum'``.
        avg_factor (float, optional): Divisor of the ``'mean'``.

    Returns:
        torch.Tensor: (N,) hinges or their reduction.
    """
    d_pos = (anchor - positive).pow(2).sum(1)
    d_neg = (anchor - negative).pow(2).sum(1)
    hinge = (margin + d_pos - d_neg).clamp(min=0)
    return weight_reduce_loss(hinge, weight, reduction, avg_factor)


@MODELS.register_module()
class TripletHingeLoss(nn.Module):
    """Hinge of given code triplets; see :func:`triplet_hinge_loss`.

    Args:
        margin (float): Margin m. Defaults to 1.0 (DSH-GANs' eq. 3).
        reduction (str): ``'none'``, ``'mean'`` or ``'sum'``. Defaults to
            ``'mean'`` (over triplets).
        loss_weight (float): Weight. Defaults to 1.0.
    """

    def __init__(self,
                 margin: float = 1.0,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0):
        super().__init__()
        self.margin = margin
        self.reduction = reduction
        self.loss_weight = loss_weight

    def forward(self,
                anchor: torch.Tensor,
                positive: torch.Tensor,
                negative: torch.Tensor,
                weight: Optional[torch.Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None) -> torch.Tensor:
        """Args: see :func:`triplet_hinge_loss`.

        Returns:
            torch.Tensor: The weighted loss.
        """
        reduction = reduction_override or self.reduction
        return self.loss_weight * triplet_hinge_loss(
            anchor, positive, negative, self.margin, weight, reduction,
            avg_factor)
