"""Bit balance: each bit should be +1 on about half of the items."""
from typing import Optional

import torch
import torch.nn as nn
from mmpretrain.registry import MODELS

from .utils import float32_loss


@MODELS.register_module()
class BitBalanceLoss(nn.Module):
    r"""Squared norm of the per-bit sum of the outputs.

    .. math::
        L = \frac{w}{a} \Big\lVert o + \sum_{i=1}^{n} x_i \Big\rVert^2

    DADH's :math:`\eta(\lVert F\mathbf 1\rVert^2 + \lVert G\mathbf 1
    \rVert^2)` **[I]** (one call per stream, w = η; η = 10 in the
    third-party code **[TC]**) sums over *all* N training items; on a
    mini-batch, ``offset`` o carries the (buffered, constant) sum of the
    other N − n items, so the gradient on each batch row is
    :math:`2w(o + \sum_i x_i)/a`, that of the full term. Without an offset
    and with ``a = n^2`` it is the in-batch :math:`w\lVert\bar x\rVert^2`.

    Args:
        loss_weight (float): w (η). Defaults to 1.
    """

    def __init__(self, loss_weight: float = 1.0):
        super().__init__()
        self.loss_weight = loss_weight

    # No pure function holds this formula, so forward runs in float32 (a
    # half-precision offset, the sum of N - n rows, would lose its digits).
    @float32_loss
    def forward(self,
                features: torch.Tensor,
                offset: Optional[torch.Tensor] = None,
                avg_factor: Optional[float] = None) -> torch.Tensor:
        """Args: features (n, k) x; offset (k,) o (default 0); avg_factor a
        (default 1: the raw formula).

        Returns:
            torch.Tensor: The weighted scalar loss.
        """
        total = features.sum(0)
        if offset is not None:
            if offset.shape != total.shape:
                raise ValueError(f'BitBalanceLoss: offset must have shape '
                                 f'{tuple(total.shape)}, got '
                                 f'{tuple(offset.shape)}')
            total = total + offset.to(total)
        a = 1. if avg_factor is None else avg_factor
        return self.loss_weight * total.pow(2).sum() / a
