"""Gradient reversal (Ganin & Lempitsky, ICML 2015; TAH's GradientScaler).

Forward is the identity; backward multiplies the incoming gradient by
``-coeff``. Placed between the codes and a domain discriminator, one SGD
step then trains the discriminator to *minimise* the domain loss and the
feature extractor to *maximise* it (weighted by ``coeff``): the saddle
point of TAH Eq. 10 without alternating updates.
"""
import torch
import torch.nn as nn
from mmpretrain.registry import MODELS


class GradientReverseFunction(torch.autograd.Function):
    """``y = x``; ``dL/dx = -coeff * dL/dy``."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, coeff: float) -> torch.Tensor:
        ctx.coeff = float(coeff)
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        return -ctx.coeff * grad_output, None


def grad_reverse(x: torch.Tensor, coeff: float = 1.0) -> torch.Tensor:
    """Identity forward, gradient times ``-coeff`` backward."""
    return GradientReverseFunction.apply(x, coeff)


@MODELS.register_module()
class GradientReversal(nn.Module):
    """Gradient reversal layer with a settable coefficient.

    The coefficient is plain state (not a parameter or buffer), set every
    iteration by :class:`GradientReversalScheduleHook` through the model's
    ``set_grl_coeff``; a checkpoint does not need it because the hook
    recomputes it from the iteration on resume.

    Args:
        coeff (float): Initial coefficient (TAH's schedule starts at 0).
            Defaults to 0.
    """

    def __init__(self, coeff: float = 0.):
        super().__init__()
        self.coeff = float(coeff)

    def set_coeff(self, coeff: float) -> None:
        """Set the backward scale ``coeff`` (>= 0 reverses, 0 blocks)."""
        self.coeff = float(coeff)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return grad_reverse(x, self.coeff)

    def extra_repr(self) -> str:
        return f'coeff={self.coeff:.6g}'
