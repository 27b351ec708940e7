r"""GreedyHash's hash coding layer: sign forward, identity backward.

Su et al. (NeurIPS 2018) keep the codes strictly binary during training,
:math:`b = \operatorname{sgn}(h)`, and pass the gradient with respect to
``b`` unchanged to ``h`` (:math:`\partial L/\partial h :=
\partial L/\partial b`), a straight-through estimator without the usual
clipping to :math:`|h| \le 1`. The authors' layer (ssppp/GreedyHash,
``class hash(Function)``) uses ``torch.sign``, which maps 0 to 0; here
0 maps to +1, the project's convention (DESIGN.md §5), so training codes
are the codes :meth:`HashHead.binarize` gives at test time. The two differ
only where a continuous output is exactly 0.
"""
import torch


class StraightThroughSign(torch.autograd.Function):
    """``b = +1 if h >= 0 else -1``; ``dL/dh = dL/db``."""

    @staticmethod
    def forward(ctx, codes: torch.Tensor) -> torch.Tensor:
        # where() on the input's own dtype: half-precision codes under AMP
        # give half-precision +-1 (exact in every float format).
        one = torch.ones((), dtype=codes.dtype, device=codes.device)
        return torch.where(codes >= 0, one, -one)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor) -> torch.Tensor:
        return grad_output


def straight_through_sign(codes: torch.Tensor) -> torch.Tensor:
    """Binary codes in {-1, +1} (sign(0) = +1) whose gradient is passed
    straight through to ``codes``.

    Args:
        codes (torch.Tensor): Continuous codes h of any shape.

    Returns:
        torch.Tensor: ``sgn(h)`` of the same shape and dtype.
    """
    if not codes.is_floating_point():
        raise ValueError('straight_through_sign: codes must be a floating '
                         f'tensor, got dtype {codes.dtype}')
    return StraightThroughSign.apply(codes)
