"""The adversary stream's real/synthetic loss (DSH-GANs, blog eq. 5)."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.models.losses.utils import weight_reduce_loss
from mmpretrain.registry import MODELS

from .utils import float32_loss


@float32_loss
def real_synthetic_loss(logits: torch.Tensor,
                        is_real: torch.Tensor,
                        weight: Optional[torch.Tensor] = None,
                        reduction: str = 'mean',
                        avg_factor: Optional[float] = None) -> torch.Tensor:
    r""":math:`l_a(x) = -\log P(\text{real}|x)` for a real x and
    :math:`-\log P(\text{synthetic}|x)` for a synthetic x, with
    :math:`P(\text{real}|x) = \sigma(\text{logit})`.

    Args:
        logits (torch.Tensor): (N,) logits of "x is real".
        is_real (torch.Tensor): (N,) 1 for real images, 0 for synthetic.
        weight (torch.Tensor, optional): (N,) per-image weights.
        reduction (str): ``'none'``, ``'mean'`` or ``'sum'``.
        avg_factor (float, optional): Divisor of the ``'mean'``.

    Returns:
        torch.Tensor: (N,) losses or their reduction.
    """
    each = F.binary_cross_entropy_with_logits(
        logits, is_real.to(logits.dtype), reduction='none')
    return weight_reduce_loss(each, weight, reduction, avg_factor)


@MODELS.register_module()
class RealSyntheticLoss(nn.Module):
    """Real/synthetic loss of an adversary stream; see
    :func:`real_synthetic_loss`.

    The CNN minimises it with the true targets. A generator either
    maximises it (``loss_weight=-1``: the minimax ``-l_a`` of DSH-GANs'
    eq. 7, which saturates while the stream wins) or minimises it with the
    targets flipped (``flip_targets=True``: ``-log P(real|G(z))``, the
    non-saturating generator loss of Goodfellow et al., 2014).

    Args:
        flip_targets (bool): Score against ``1 - is_real``. Defaults to
            False.
        reduction (str): ``'none'``, ``'mean'`` or ``'sum'``. Defaults to
            ``'mean'``.
        loss_weight (float): Weight (negative to maximise). Defaults to
            1.0.
    """

    def __init__(self,
                 flip_targets: bool = False,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0):
        super().__init__()
        self.flip_targets = flip_targets
        self.reduction = reduction
        self.loss_weight = loss_weight

    def forward(self,
                logits: torch.Tensor,
                is_real: torch.Tensor,
                weight: Optional[torch.Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None) -> torch.Tensor:
        """Args: see :func:`real_synthetic_loss`.

        Returns:
            torch.Tensor: The weighted loss.
        """
        if self.flip_targets:
            is_real = 1 - is_real.to(logits.dtype)
        reduction = reduction_override or self.reduction
        return self.loss_weight * real_synthetic_loss(
            logits, is_real, weight, reduction, avg_factor)
