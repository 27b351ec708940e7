"""Triplet ranking loss over all valid triplets of a batch (DNNH/NINH)."""
from typing import Optional

import torch
import torch.nn as nn
from mmpretrain.registry import MODELS

from ..utils import label_similarity
from .utils import float32_loss

# Fewest elements of one default (rows, N, q) block of code differences
# (4 MiB in float32); above N = 1024 a block holds N^2, as a distance matrix.
_MIN_BLOCK_ELEMENTS = 2**20


def _rows_per_block(num: int, bits: int,
                    block_size: Optional[int] = None) -> int:
    if block_size is not None:
        if block_size < 1:
            raise ValueError(f'block_size must be a positive int, got '
                             f'{block_size!r}')
        return int(block_size)
    return max(1, max(_MIN_BLOCK_ELEMENTS, num * num) // max(1, num * bits))


class _SquaredDistances(torch.autograd.Function):
    """All pairwise squared L2 distances, ``(h_i - h_j)^2`` summed over
    bits, a block of rows at a time.

    Differences rather than ``|h_i|^2 + |h_j|^2 - 2 h_i.h_j``: the latter
    cancels for close codes, so duplicate codes would not be at distance
    exactly 0 and exact ties would break. Autograd through the broadcast
    would keep the whole (N, N, q) difference tensor alive; this keeps
    only the codes and recomputes each block's differences in backward.
    """

    @staticmethod
    def forward(ctx, codes: torch.Tensor, rows: int) -> torch.Tensor:
        dist = codes.new_empty(codes.shape[0], codes.shape[0])
        for start in range(0, codes.shape[0], rows):
            block = codes[start:start + rows]
            diff = block.unsqueeze(1) - codes.unsqueeze(0)
            dist[start:start + rows] = diff.pow_(2).sum(-1)
        ctx.rows = rows
        ctx.save_for_backward(codes)
        return dist

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_dist: torch.Tensor):
        codes, = ctx.saved_tensors
        # d_ij enters the codes of both i and j: dL/dh_i =
        # 2 sum_j (g_ij + g_ji) (h_i - h_j).
        weight = grad_dist + grad_dist.t()
        grad = torch.empty_like(codes)
        for start in range(0, codes.shape[0], ctx.rows):
            block = codes[start:start + ctx.rows]
            diff = block.unsqueeze(1) - codes.unsqueeze(0)
            diff.mul_(weight[start:start + ctx.rows].unsqueeze(-1))
            grad[start:start + ctx.rows] = 2 * diff.sum(1)
        return grad, None


def _hinge_sums(dist: torch.Tensor, thresh: torch.Tensor, pos: torch.Tensor,
                neg: torch.Tensor):
    """Sum of all hinges and, per pair (i, j), the count c_ij of negatives
    k of i with d_ik <= t_ij (used for positive pairs only). In-place
    steps and a function scope keep few (N, N) temporaries alive."""
    num = dist.shape[0]
    neg_sorted = dist.masked_fill(~neg, float('inf')).sort(dim=1).values
    count = torch.searchsorted(neg_sorted, thresh, right=True)
    # prefix[:, c - 1] = G_c; the non-negatives' +inf padding adds nothing.
    gaps = neg_sorted.diff(dim=1)
    gaps.masked_fill_(~torch.isfinite(neg_sorted[:, 1:]), 0)
    gaps.mul_(torch.arange(1, num, dtype=dist.dtype, device=dist.device))
    prefix = torch.cat([gaps.new_zeros(num, 1), gaps.cumsum_(dim=1)], dim=1)
    del gaps
    last = (count - 1).clamp_(min=0)
    hinges = thresh - neg_sorted.gather(1, last)
    hinges.mul_(count).add_(prefix.gather(1, last))
    del neg_sorted, prefix, last
    # count > 0 also keeps the +inf of anchors without negatives out.
    total = hinges.masked_fill_(~(pos & (count > 0)), 0).sum()
    # Non-finite codes give NaN, as the direct sum did: the masks and the
    # sort above could otherwise drop a NaN distance.
    return total + dist.sum() * 0, count


def _hinge_weights(dist: torch.Tensor, thresh: torch.Tensor,
                   pos: torch.Tensor, neg: torch.Tensor,
                   count: torch.Tensor) -> torch.Tensor:
    """d(hinge sum)/d(dist): +c_ij at positive pairs, minus the number of
    positives j of i with t_ij >= d_ik at negatives; consumes ``count``."""
    # Non-positives sort first as -inf and count among the t_ij < d_ik.
    pos_sorted = thresh.masked_fill(~pos, float('-inf')).sort(dim=1).values
    active = torch.searchsorted(pos_sorted, dist)
    del pos_sorted
    active.neg_().add_(dist.shape[0]).masked_fill_(~neg, 0)
    return count.masked_fill_(~pos, 0).sub_(active).to(dist.dtype)


class _HingeSum(torch.autograd.Function):
    r""":math:`\sum_{(i,j,k)\in T} \max(0, m + d_{ij} - d_{ik})` from the
    (N, N) distances in O(N^2) memory.

    Per anchor i, its negatives' distances are sorted: s_1 <= ... <= s_n.
    For a positive pair with t = m + d_ij, the active negatives are the
    c = #{s <= t} smallest (a ``searchsorted``), and their hinge sum is
    :math:`G_c + c (t - s_c)` with
    :math:`G_c = \sum_{k<c} (s_c - s_k) = \sum_{k<c} k (s_{k+1} - s_k)`,
    a prefix sum of non-negative terms: no cancellation, unlike
    :math:`c t - \sum_{k \le c} s_k`, whose two terms are large when the
    hinges are small. The gradient is given explicitly, as integer counts
    (autograd through that prefix sum would cancel again): each pair's
    d_ij gets +c_ij, each negative's d_ik gets minus the number of
    positives j with t_ij >= d_ik. ``>=`` (``<=`` for s above) keeps the
    old ``clamp(min=0)``, whose gradient passes at a hinge of exactly 0.
    """

    @staticmethod
    def forward(ctx, dist: torch.Tensor, pos: torch.Tensor,
                neg: torch.Tensor, margin: float) -> torch.Tensor:
        # Rounded as the old m + d_ij - d_ik, and (IEEE) a - b >= 0 iff
        # a >= b: the same triplets are active.
        thresh = margin + dist
        total, count = _hinge_sums(dist, thresh, pos, neg)
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(
                _hinge_weights(dist, thresh, pos, neg, count))
        return total

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_total: torch.Tensor):
        weight, = ctx.saved_tensors
        return grad_total * weight, None, None, None


@float32_loss
def triplet_ranking_loss(codes: torch.Tensor,
                         labels: torch.Tensor,
                         margin: float = 1.0,
                         block_size: Optional[int] = None) -> torch.Tensor:
    r"""Mean hinge over the batch's triplets (Lai et al., DNNH, CVPR 2015).

    .. math::
        \ell = \frac{1}{|T|}\sum_{(i,j,k)\in T}
        \max(0,\ m + \|h_i - h_j\|^2 - \|h_i - h_k\|^2),

    with :math:`T = \{(i,j,k): i \ne j,\ s_{ij}=1,\ s_{ik}=0\}` and
    :math:`s_{ij} = 1[y_i^\top y_j > 0]`: every anchor, every positive that
    shares a label with it and every negative that shares none. The
    squared L2 distance is the differentiable relaxation of the Hamming
    distance. A batch without triplets gives 0 (with a gradient path).

    Every triplet counts, but none is materialised: per anchor the
    negatives' distances are sorted and each positive's hinge sum is read
    off prefix sums (:class:`_HingeSum`), so memory is O(N^2) plus one
    block of code differences instead of the O(N^3) of all triplets, and
    the value and gradient are those of the direct sum up to rounding.
    Runs in float32 whatever the codes' precision
    (:func:`~hashplugins.models.losses.utils.float32_loss`).

    Args:
        codes (torch.Tensor): (N, q) continuous codes.
        labels (torch.Tensor): (N, C) multi-hot labels.
        margin (float): m. DNNH uses 1 with sigmoid codes; tanh codes have
            4x the squared distances, so scale m accordingly.
        block_size (int, optional): Rows of the distance matrix computed
            (and differentiated) at once, bounding the (rows, N, q)
            difference tensor. Defaults to None: as many rows as make
            max(N^2, 2^20) elements, no more than one (N, N) matrix (or
            4 MiB in float32).

    Returns:
        torch.Tensor: Scalar loss.
    """
    num = codes.shape[0]
    if num < 3:  # a triplet needs three samples
        return codes.sum() * 0.
    sim = label_similarity(labels).bool()
    eye = torch.eye(num, dtype=torch.bool, device=codes.device)
    pos = sim & ~eye
    neg = ~sim
    dist = _SquaredDistances.apply(
        codes, _rows_per_block(num, codes.shape[1], block_size))
    total = _HingeSum.apply(dist, pos, neg, margin)
    # |T| = sum_i |P(i)| |N(i)| as a tensor: no host sync; with no triplet
    # the total is 0 and so is the loss, still connected to the codes.
    num_triplets = (pos.sum(1) * neg.sum(1)).sum()
    return total / num_triplets.clamp(min=1).to(total.dtype)


@MODELS.register_module()
class TripletRankingLoss(nn.Module):
    """Triplet ranking loss on labelled codes; see
    :func:`triplet_ranking_loss`.

    Args:
        margin (float): Margin m. Defaults to 1.0.
        loss_weight (float): Weight. Defaults to 1.0.
        block_size (int, optional): Rows of the distance matrix per block;
            see :func:`triplet_ranking_loss`. Defaults to None (automatic).
    """

    #: Triplets are formed within the batch the loss is given (the global
    #: batch under a head with gather_across_ranks): a batch of two samples
    #: has none. Checked when training starts (BatchSizeCheckHook).
    min_samples_per_batch = 3

    def __init__(self,
                 margin: float = 1.0,
                 loss_weight: float = 1.0,
                 block_size: Optional[int] = None):
        super().__init__()
        self.margin = margin
        self.loss_weight = loss_weight
        self.block_size = block_size

    def forward(self, codes: torch.Tensor,
                labels: torch.Tensor) -> torch.Tensor:
        """Args: codes (N, q); labels (N, C) multi-hot.

        Returns:
            torch.Tensor: The weighted scalar loss.
        """
        return self.loss_weight * triplet_ranking_loss(
            codes, labels, self.margin, block_size=self.block_size)
