"""Quantization losses pulling continuous codes towards {-1, +1}."""
import torch
import torch.nn as nn
from mmpretrain.registry import MODELS

from .utils import float32_loss


@float32_loss
def quantization_loss(codes: torch.Tensor, mode: str = 'l2') -> torch.Tensor:
    r"""Distance of continuous codes from binary ones, averaged per bit.

    * ``'l2'`` (DPSH): :math:`\operatorname{mean}_{i,t} (u_{it} -
      \operatorname{sgn}(u_{it}))^2` with sgn(0) = +1.
    * ``'logcosh'`` (DHN/TAH): :math:`\operatorname{mean}_{i,t}
      \log\cosh(|z_{it}| - 1)`, from the prior
      :math:`p(z) \propto \exp(-||z| - 1|/\epsilon)`.
    * ``'cubic'`` (GreedyHash): :math:`\operatorname{mean}_{i,t}
      ||h_{it}| - 1|^3`, the authors' penalty on the hash layer's output
      (ssppp/GreedyHash; ``'l2'`` equals their commented-out p = 2 form,
      since :math:`|h - \operatorname{sgn}(h)| = ||h| - 1|`).

    Computed in float32 under AMP
    (:func:`~hashplugins.models.losses.utils.float32_loss`).

    Args:
        codes (torch.Tensor): Continuous codes, shape (N, B).
        mode (str): ``'l2'``, ``'logcosh'`` or ``'cubic'``.

    Returns:
        torch.Tensor: Scalar loss.
    """
    if mode == 'l2':
        binary = torch.where(codes >= 0, 1., -1.).to(codes.dtype)
        return (codes - binary.detach()).pow(2).mean()
    if mode == 'logcosh':
        x = codes.abs() - 1
        # log(cosh(x)) = |x| + log1p(exp(-2|x|)) - log 2, stable for large x
        return (x.abs() + torch.log1p(torch.exp(-2 * x.abs())) -
                torch.log(torch.tensor(2., dtype=codes.dtype))).mean()
    if mode == 'cubic':
        return (codes.abs() - 1).abs().pow(3).mean()
    raise ValueError(f"quantization mode must be 'l2', 'logcosh' or "
                     f"'cubic', got {mode!r}")


@MODELS.register_module()
class HashQuantizationLoss(nn.Module):
    """Quantization loss on continuous codes; see :func:`quantization_loss`.

    Args:
        mode (str): ``'l2'`` (DPSH), ``'logcosh'`` (DHN/TAH) or
            ``'cubic'`` (GreedyHash). Defaults to ``'l2'``.
        loss_weight (float): Weight of the loss. Defaults to 1.0.
    """

    def __init__(self, mode: str = 'l2', loss_weight: float = 1.0):
        super().__init__()
        if mode not in ('l2', 'logcosh', 'cubic'):
            raise ValueError(f"HashQuantizationLoss: mode must be 'l2', "
                             f"'logcosh' or 'cubic', got {mode!r}")
        self.mode = mode
        self.loss_weight = loss_weight

    def forward(self, codes: torch.Tensor, labels=None) -> torch.Tensor:
        """Args: codes (N, B); labels are ignored (unsupervised term).

        Returns:
            torch.Tensor: The weighted scalar loss.
        """
        return self.loss_weight * quantization_loss(codes, self.mode)
