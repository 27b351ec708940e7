"""Gap between real-valued features and their learned binary codes."""
from typing import Optional

import torch
import torch.nn as nn
from mmpretrain.registry import MODELS

from .utils import float32_loss


@MODELS.register_module()
class FeatureCodeGapLoss(nn.Module):
    r"""Squared distance of features from the learned codes of the same items.

    .. math::
        L = \frac{w}{a} \sum_i \lVert x_i - b_i \rVert^2

    DADH's "minimise the gap between the learned features and the discrete
    codes" **[A]**, :math:`\gamma(\lVert F - B\rVert^2 + \lVert G - B
    \rVert^2)` in the spec (one call per stream, w = γ; γ = 100 in the
    third-party code **[TC]**). Whether x is the pre-activation F (spec)
    or tanh(F) is an open question: the hasher's ``tanh_in_gap`` decides
    what it passes. Unlike :class:`HashQuantizationLoss` (distance to
    sign(x)), the targets b are free variables updated by the code step.

    Args:
        loss_weight (float): w (γ). Defaults to 1.
    """

    def __init__(self, loss_weight: float = 1.0):
        super().__init__()
        self.loss_weight = loss_weight

    # No pure function holds this formula, so forward runs in float32
    # (half-precision features would otherwise cast B down to theirs).
    @float32_loss
    def forward(self,
                features: torch.Tensor,
                codes: torch.Tensor,
                avg_factor: Optional[float] = None) -> torch.Tensor:
        """Args: features (n, k) x; codes (n, k) b of the same items;
        avg_factor a, defaults to n (mean over items).

        Returns:
            torch.Tensor: The weighted scalar loss.
        """
        if features.shape != codes.shape:
            raise ValueError(f'FeatureCodeGapLoss: features '
                             f'{tuple(features.shape)} and codes '
                             f'{tuple(codes.shape)} must match')
        a = features.shape[0] if avg_factor is None else avg_factor
        return self.loss_weight * (features - codes.to(features)).pow(
            2).sum() / max(a, 1)
