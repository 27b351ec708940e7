"""Label helpers: multi-hot matrices and pairwise semantic similarity."""
from typing import Optional, Sequence

import torch

from .device_checks import check_true


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
    if device is None:
        device = torch.device('cpu')
    # One concatenation and one scatter for the batch: on a GPU a Python
    # loop over samples would wait for the device once per sample.
    flat = (torch.cat(indices) if indices else torch.zeros(
        0, dtype=torch.long)).to(device)
    if num_classes is None:
        width = int(flat.max()) + 1 if flat.numel() else 0
    else:
        width = num_classes
        check_label_range(flat, num_classes)
    rows = torch.arange(len(indices), device=device)
    counts = [len(i) for i in indices]
    if any(c != 1 for c in counts):  # multi-label (or unlabelled) rows
        rows = torch.repeat_interleave(
            rows, torch.tensor(counts, device=device),
            output_size=flat.numel())
    multihot = torch.zeros(len(indices), max(width, 1), device=device)
    multihot[rows, flat] = 1.
    return multihot


def check_label_range(indices: torch.Tensor, num_classes: int) -> None:
    """Raise if a class index is ``>= num_classes``; on the host the
    ``ValueError`` names the index, on an accelerator it is a device-side
    assertion (:func:`check_true`), so the step does not wait for the
    device.

    Args:
        indices (torch.Tensor): Class indices of any shape.
        num_classes (int): Their exclusive upper bound.
    """
    if not indices.numel():
        return
    if indices.device.type == 'cpu':
        max_index = int(indices.max())
        if max_index >= num_classes:
            raise ValueError(f'label index {max_index} is out of range for '
                             f'num_classes={num_classes}')
        return
    check_true(indices < num_classes,
               f'a label index is out of range for num_classes={num_classes}')


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
