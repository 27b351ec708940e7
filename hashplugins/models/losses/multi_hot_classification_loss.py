"""Classification loss against multi-hot labels (softmax or sigmoid)."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.models.losses.utils import weight_reduce_loss
from mmpretrain.registry import MODELS

from .utils import float32_loss


@float32_loss
def multi_hot_classification_loss(logits: torch.Tensor,
                                  labels: torch.Tensor,
                                  multi_label: bool = False,
                                  weight: Optional[torch.Tensor] = None,
                                  reduction: str = 'mean',
                                  avg_factor: Optional[float] = None
                                  ) -> torch.Tensor:
    r"""Per-sample classification loss of DSH-GANs (blog eqs. 1 and 2).

    Single-label: softmax cross-entropy with the target
    :math:`y / \|y\|_1` (the class of a one-hot row). ``multi_label``: the
    sum over classes of the sigmoid binary cross-entropy.

    Args:
        logits (torch.Tensor): (N, C) class logits.
        labels (torch.Tensor): (N, C) multi-hot labels, no empty row.
        multi_label (bool): Sigmoid instead of softmax. Defaults to False.
        weight (torch.Tensor, optional): (N,) per-sample weights.
        reduction (str): ``'none'``, ``'mean'`` or ``'sum'``.
        avg_factor (float, optional): Divisor of the ``'mean'``.

    Returns:
        torch.Tensor: (N,) losses or their reduction.
    """
    labels = labels.to(logits.dtype)
    if multi_label:
        each = F.binary_cross_entropy_with_logits(
            logits, labels, reduction='none').sum(1)
    else:
        each = F.cross_entropy(logits, labels / labels.sum(1, keepdim=True),
                               reduction='none')
    return weight_reduce_loss(each, weight, reduction, avg_factor)


@MODELS.register_module()
class MultiHotClassificationLoss(nn.Module):
    """Softmax or sigmoid classification loss against multi-hot labels;
    see :func:`multi_hot_classification_loss`.

    Args:
        multi_label (bool): Sigmoid per class (multi-label data) instead of
            softmax. Defaults to False.
        reduction (str): ``'none'``, ``'mean'`` or ``'sum'``. Defaults to
            ``'mean'``.
        loss_weight (float): Weight. Defaults to 1.0.
    """

    def __init__(self,
                 multi_label: bool = False,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0):
        super().__init__()
        self.multi_label = multi_label
        self.reduction = reduction
        self.loss_weight = loss_weight

    def forward(self,
                logits: torch.Tensor,
                labels: torch.Tensor,
                weight: Optional[torch.Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None) -> torch.Tensor:
        """Args: see :func:`multi_hot_classification_loss`.

        Returns:
            torch.Tensor: The weighted loss.
        """
        reduction = reduction_override or self.reduction
        return self.loss_weight * multi_hot_classification_loss(
            logits, labels, self.multi_label, weight, reduction, avg_factor)
