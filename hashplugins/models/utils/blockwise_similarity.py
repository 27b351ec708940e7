"""Products with the N x N label similarity, computed without forming it.

Asymmetric hashing objectives (ADSH, DADH) need ``S @ X`` for the whole
training set, with ``s_ij = 1[y_i . y_j > 0]``. N can be 200,000, so the
N x N matrix (160 GB in float32) is never built. Rows with the same label
vector have the same similarity row, so everything is computed over the U
*distinct* label vectors ("patterns"): sum X over each pattern's rows
(U x k), multiply by the U x U pattern similarity in row blocks, and
scatter back. Single-label data has U = C (cost O(N k)); multi-label data
has U <= N (NUS-WIDE-21 has a few thousand distinct label sets), and the
worst case U = N degrades gracefully to blocked N x N work with
``block_size x U`` memory.
"""
from typing import NamedTuple

import torch

from .similarity import label_similarity


class LabelPatterns(NamedTuple):
    """Distinct label vectors of a label matrix.

    Attributes:
        patterns (torch.Tensor): (U, C) distinct multi-hot rows.
        inverse (torch.Tensor): (N,) long, row i has ``patterns[inverse[i]]``.
        counts (torch.Tensor): (U,) long, how many rows have each pattern.
    """
    patterns: torch.Tensor
    inverse: torch.Tensor
    counts: torch.Tensor


def label_patterns(labels: torch.Tensor) -> LabelPatterns:
    """Group the rows of an (N, C) multi-hot label matrix by value.

    Args:
        labels (torch.Tensor): (N, C) multi-hot labels (any numeric dtype).

    Returns:
        LabelPatterns: distinct rows, the row -> pattern map and the counts.
    """
    if labels.dim() != 2:
        raise ValueError(f'labels must be (N, C), got shape '
                         f'{tuple(labels.shape)}')
    patterns, inverse, counts = torch.unique(
        (labels > 0).to(torch.uint8),
        dim=0,
        return_inverse=True,
        return_counts=True)
    return LabelPatterns(patterns.float(), inverse, counts)


def _pattern_blocks(patterns: torch.Tensor, block_size: int):
    """Yield ``(start, stop, S_block)``: row blocks of the U x U pattern
    similarity (block_size x U each)."""
    if block_size < 1:
        raise ValueError(f'block_size must be >= 1, got {block_size}')
    for start in range(0, patterns.shape[0], block_size):
        stop = min(start + block_size, patterns.shape[0])
        yield start, stop, label_similarity(patterns[start:stop], patterns)


def similarity_matmul(labels: torch.Tensor,
                      values: torch.Tensor,
                      scale: float = 1.,
                      shift: float = 0.,
                      block_size: int = 1024) -> torch.Tensor:
    r"""``(a S + b) @ X`` for the label similarity S of N rows.

    .. math::
        ((aS + b\mathbf 1\mathbf 1^\top) X)_j
        = a \sum_i 1[y_j^\top y_i > 0]\, x_i + b \sum_i x_i

    ``a = 2, b = -1`` gives :math:`\tilde S = 2S - 1 \in \{\pm 1\}`.
    Computed over distinct label vectors (see the module docstring); the
    N x N similarity is never formed. Peak extra memory is about
    ``block_size x U + 2 U x k`` floats.

    Args:
        labels (torch.Tensor): (N, C) multi-hot labels.
        values (torch.Tensor): (N, k) matrix X (float).
        scale (float): a. Defaults to 1.
        shift (float): b. Defaults to 0.
        block_size (int): Pattern rows per block.

    Returns:
        torch.Tensor: (N, k), same dtype as ``values``.
    """
    if labels.shape[0] != values.shape[0]:
        raise ValueError(f'labels ({labels.shape[0]} rows) and values '
                         f'({values.shape[0]} rows) must have the same N')
    groups = label_patterns(labels)
    patterns = groups.patterns.to(values)
    per_pattern = values.new_zeros(patterns.shape[0], values.shape[1])
    per_pattern.index_add_(0, groups.inverse, values)
    product = torch.empty_like(per_pattern)
    for start, stop, block in _pattern_blocks(patterns, block_size):
        product[start:stop] = block.to(per_pattern) @ per_pattern
    product = scale * product + shift * values.sum(0, keepdim=True)
    return product[groups.inverse]


def similar_pair_count(labels: torch.Tensor, block_size: int = 1024) -> int:
    r"""Number of ordered pairs (i, j), i = j included, with :math:`s_{ij}=1`.

    :math:`\sum_{u,v} c_u c_v S_{uv}` over label patterns with counts c, so
    no N x N matrix is formed. With it, :math:`\sum_{ij}(a s_{ij} + b)^2 =
    (a^2 + 2ab)\,n_{sim} + b^2 N^2` for any affine similarity.

    Args:
        labels (torch.Tensor): (N, C) multi-hot labels.
        block_size (int): Pattern rows per block.

    Returns:
        int: The count.
    """
    groups = label_patterns(labels)
    counts = groups.counts.double()
    total = 0.
    for start, stop, block in _pattern_blocks(groups.patterns.double(),
                                              block_size):
        total += float(counts[start:stop] @ block.double() @ counts)
    return int(round(total))
