"""Rows of a batch tensor picked by positions known on the host."""
from typing import Sequence

import torch


def select_rows(tensor: torch.Tensor, positions: Sequence[int]
                ) -> torch.Tensor:
    """``tensor[positions]``, as a view when the positions are a contiguous
    run (the part-first batches of the paired datasets), so no index
    tensor is copied to the device every step.

    Args:
        tensor (torch.Tensor): (N, ...) batch.
        positions (Sequence[int]): Row positions, in order.

    Returns:
        torch.Tensor: (len(positions), ...) rows.
    """
    positions = list(positions)
    if not positions:
        return tensor[:0]
    start = positions[0]
    if positions == list(range(start, start + len(positions))):
        return tensor[start:start + len(positions)]
    return tensor[torch.as_tensor(positions, device=tensor.device)]
