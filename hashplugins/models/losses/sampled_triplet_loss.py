"""Triplet hinge on one sampled triplet per anchor of a labelled batch."""
import torch
import torch.nn as nn
from mmpretrain.registry import MODELS

from ..utils import label_similarity
from .triplet_hinge_loss import triplet_hinge_loss
from .utils import float32_loss


def sample_batch_triplets(labels: torch.Tensor):
    """One ``(positive, negative)`` per anchor, drawn uniformly from the
    batch: a positive shares a label with the anchor (and is not it), a
    negative shares none.

    Args:
        labels (torch.Tensor): (N, C) multi-hot labels.

    Returns:
        tuple: ``(positive (N,), negative (N,), valid (N,) bool)``; rows of
        anchors without a positive or a negative are not valid (their
        draws are meaningless). Drawn with torch's global RNG, on the
        labels' device, without a host sync.
    """
    num = labels.shape[0]
    sim = label_similarity(labels).bool()
    pos = sim & ~torch.eye(num, dtype=torch.bool, device=labels.device)
    neg = ~sim
    valid = pos.any(1) & neg.any(1)
    ones = torch.ones_like(pos, dtype=torch.float)

    def draw(mask):
        # Rows without candidates draw from a dummy uniform row.
        weights = torch.where(mask.any(1, keepdim=True), mask.float(), ones)
        return torch.multinomial(weights, 1)[:, 0]

    return draw(pos), draw(neg), valid


@MODELS.register_module()
class SampledTripletLoss(nn.Module):
    """Mean triplet hinge over one real triplet per anchor: as many
    triplets as a batch of DSH-GANs' real-synthetic triplets, from real
    images only (the one-triplet-per-query control of its ablation).

    Args:
        margin (float): Margin m. Defaults to 1.0.
        loss_weight (float): Weight. Defaults to 1.0.
    """

    #: Triplets are formed within the batch the loss is given (the global
    #: batch under a head with gather_across_ranks): a batch of two samples
    #: has none. Checked when training starts (BatchSizeCheckHook).
    min_samples_per_batch = 3

    def __init__(self, margin: float = 1.0, loss_weight: float = 1.0):
        super().__init__()
        self.margin = margin
        self.loss_weight = loss_weight

    @float32_loss  # the three uses of codes accumulate in float32
    def forward(self, codes: torch.Tensor,
                labels: torch.Tensor) -> torch.Tensor:
        """Args: codes (N, q); labels (N, C) multi-hot.

        Returns:
            torch.Tensor: The weighted mean hinge over the valid anchors
            (0, still connected to the codes, when none is valid).
        """
        positive, negative, valid = sample_batch_triplets(labels)
        valid = valid.to(codes.dtype)
        return self.loss_weight * triplet_hinge_loss(
            codes, codes[positive], codes[negative], self.margin,
            weight=valid, avg_factor=valid.sum().clamp(min=1))
