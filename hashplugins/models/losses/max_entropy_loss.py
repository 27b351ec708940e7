"""Maximum-entropy loss on the codes of GAN-generated fake images (ganreg)."""
import torch
import torch.nn as nn
from mmpretrain.registry import MODELS

from .utils import float32_loss

MODES = ('uniform_ce', 'neg_entropy')
CODE_RANGES = ('tanh', 'sigmoid')


def bit_probabilities(codes: torch.Tensor, code_range: str = 'tanh',
                      eps: float = 1e-6) -> torch.Tensor:
    """Per-bit probabilities ``p_k`` of a +1 bit, clamped to [eps, 1-eps].

    ``p = (1 + z) / 2`` for tanh codes in (-1, 1) (equal to ``σ(2a)`` for
    the pre-activation ``a``), ``p = z`` for sigmoid codes in (0, 1).
    """
    if code_range == 'tanh':
        p = (1 + codes) / 2
    elif code_range == 'sigmoid':
        p = codes
    else:
        raise ValueError(f'code_range must be one of {CODE_RANGES}, got '
                         f'{code_range!r}')
    return p.clamp(eps, 1 - eps)


@float32_loss
def max_entropy_loss(codes: torch.Tensor,
                     mode: str = 'uniform_ce',
                     code_range: str = 'tanh',
                     eps: float = 1e-6) -> torch.Tensor:
    r"""Penalise low-entropy codes, averaged over fakes and bits (spec §5.2).

    * ``'uniform_ce'`` (reading (a), default): cross-entropy to the uniform
      target, :math:`-\frac{1}{q}\sum_k [\tfrac12\log p_k +
      \tfrac12\log(1-p_k)]`: the expected BCE when each fake gets a random
      code with Bernoulli(½) bits, i.e. training on an ensemble of random
      labellings. Minimum :math:`\log 2` at :math:`p_k = ½`; its gradient in
      the sigmoid pre-activation is :math:`(p_k - ½)/q`, alive even for
      saturated outputs.
    * ``'neg_entropy'`` (reading (b)): :math:`\frac{1}{q}\sum_k [p_k\log p_k
      + (1-p_k)\log(1-p_k)]`, the negative binary entropy; minimum
      :math:`-\log 2` at :math:`p_k = ½`; its gradient vanishes at
      saturation.

    Runs in float32 whatever the codes' precision
    (:func:`~hashplugins.models.losses.utils.float32_loss`): under AMP a
    saturated hash layer gives codes of exactly ±1, and in
    float16/bfloat16 the clamp bound ``1 - 1e-6`` is 1 itself, so
    ``log(1 - p)`` was ``log(0)``. In float32 ``1 - eps`` is below 1 for
    the default eps; for an eps under float32's resolution at 1 (about
    6e-8, e.g. 1e-9) ``1 - p`` is clamped at eps as well, so both logs
    stay finite for any eps > 0.

    Args:
        codes (torch.Tensor): (N, q) continuous codes of fake images.
        mode (str): ``'uniform_ce'`` or ``'neg_entropy'``.
        code_range (str): ``'tanh'`` (codes in (-1, 1)) or ``'sigmoid'``.
        eps (float): Probability clamp, keeping logs finite. Defaults to
            1e-6.

    Returns:
        torch.Tensor: Scalar, the mean over samples and bits.
    """
    p = bit_probabilities(codes, code_range, eps)

    # 1 - p, clamped at eps too: this acts only on bits at the upper clamp,
    # where 1 - (1 - eps) can come out below eps, and 0 (log(0)) if 1 - eps
    # rounds to 1 (tiny eps). In float32 with the default eps it changes
    # nothing; built per use, as before, so gradients stay bit-identical.
    def one_minus_p():
        return (1 - p).clamp(min=eps)

    if mode == 'uniform_ce':
        return -0.5 * (p.log() + one_minus_p().log()).mean()
    if mode == 'neg_entropy':
        return (p * p.log() + one_minus_p() * one_minus_p().log()).mean()
    raise ValueError(f'max-entropy mode must be one of {MODES}, got '
                     f'{mode!r}')


@MODELS.register_module()
class MaxEntropyLoss(nn.Module):
    """Maximum-entropy loss on fake-image codes; see :func:`max_entropy_loss`.

    Which reading Geng et al. use is unknown (abstract only, spec §5.2
    [I]); ``mode`` keeps both.

    Args:
        mode (str): ``'uniform_ce'`` (default) or ``'neg_entropy'``.
        code_range (str): ``'tanh'`` (default) or ``'sigmoid'``; must match
            the hash head's activation.
        eps (float): Probability clamp. Defaults to 1e-6.
        loss_weight (float): λ. Defaults to 1.0.
    """

    def __init__(self,
                 mode: str = 'uniform_ce',
                 code_range: str = 'tanh',
                 eps: float = 1e-6,
                 loss_weight: float = 1.0):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f'MaxEntropyLoss: mode must be one of {MODES}, '
                             f'got {mode!r}')
        if code_range not in CODE_RANGES:
            raise ValueError(f'MaxEntropyLoss: code_range must be one of '
                             f'{CODE_RANGES}, got {code_range!r}')
        self.mode = mode
        self.code_range = code_range
        self.eps = eps
        self.loss_weight = loss_weight

    def forward(self, codes: torch.Tensor, labels=None) -> torch.Tensor:
        """Args: codes (N, q) of fakes; labels are ignored (fakes have none).

        Returns:
            torch.Tensor: The weighted scalar loss.
        """
        return self.loss_weight * max_entropy_loss(codes, self.mode,
                                                   self.code_range, self.eps)
