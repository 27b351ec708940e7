"""Label helpers: multi-hot matrices and pairwise semantic similarity."""
from typing import Optional, Sequence

import torch


def labels_to_multihot(data_samples: Sequence,
                       num_classes: Optional[int] = None,
                       device=None) -> torch.Tensor:
    """Stack the ``gt_label`` index tensors of data samples as multi-hot rows.

    Single-label samples give one-hot rows. Only "shares at least one label"
    matters for similarity, so without ``num_classes`` the width is the
    largest index in the batch plus one, which gives the same similarities.

    Args:
        data_samples (Sequence[DataSample]): Samples with ``gt_label``.
        num_classes (int, optional): Row width; indices must be below it.
        device (torch.device, optional): Device of the result.

    Returns:
        torch.Tensor: Float tensor of shape (N, C) with 0/1 entries.
    """
    indices = [torch.as_tensor(s.gt_label, dtype=torch.long).view(-1)
               for s in data_samples]
    max_index = max((int(i.max()) for i in indices if i.numel()), default=-1)
    width = num_classes if num_classes is not None else max_index + 1
    if max_index >= width:
        raise ValueError(f'label index {max_index} is out of range for '
                         f'num_classes={num_classes}')
    multihot = torch.zeros(len(indices), max(width, 1), device=device)
    for row, idx in enumerate(indices):
        multihot[row, idx.to(multihot.device)] = 1.
    return multihot


def label_similarity(labels_a: torch.Tensor,
                     labels_b: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Pairwise similarity ``s_ij = 1[y_i . y_j > 0]`` from multi-hot labels.

    Args:
        labels_a (torch.Tensor): (N, C) multi-hot labels.
        labels_b (torch.Tensor, optional): (M, C) multi-hot labels; defaults
            to ``labels_a``.

    Returns:
        torch.Tensor: (N, M) float tensor of 0/1.
    """
    labels_b = labels_a if labels_b is None else labels_b
    return (labels_a.float() @ labels_b.float().t() > 0).float()
