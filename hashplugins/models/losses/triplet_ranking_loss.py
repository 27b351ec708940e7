"""Triplet ranking loss over all valid triplets of a batch (DNNH/NINH)."""
import torch
import torch.nn as nn
from mmpretrain.registry import MODELS

from ..utils import label_similarity


def triplet_ranking_loss(codes: torch.Tensor,
                         labels: torch.Tensor,
                         margin: float = 1.0) -> torch.Tensor:
    r"""Mean hinge over the batch's triplets (Lai et al., DNNH, CVPR 2015).

    .. math::
        \ell = \frac{1}{|T|}\sum_{(i,j,k)\in T}
        \max(0,\ m + \|h_i - h_j\|^2 - \|h_i - h_k\|^2),

    with :math:`T = \{(i,j,k): i \ne j,\ s_{ij}=1,\ s_{ik}=0\}` and
    :math:`s_{ij} = 1[y_i^\top y_j > 0]`: every anchor, every positive that
    shares a label with it and every negative that shares none. The
    squared L2 distance is the differentiable relaxation of the Hamming
    distance. A batch without triplets gives 0 (with a gradient path).

    Args:
        codes (torch.Tensor): (N, q) continuous codes.
        labels (torch.Tensor): (N, C) multi-hot labels.
        margin (float): m. DNNH uses 1 with sigmoid codes; tanh codes have
            4x the squared distances, so scale m accordingly.

    Returns:
        torch.Tensor: Scalar loss.
    """
    sim = label_similarity(labels).bool()
    dist = (codes.unsqueeze(1) - codes.unsqueeze(0)).pow(2).sum(-1)
    eye = torch.eye(len(codes), dtype=torch.bool, device=codes.device)
    pos = sim & ~eye
    neg = ~sim
    valid = pos.unsqueeze(2) & neg.unsqueeze(1)  # [i, j, k]
    if not valid.any():
        return codes.sum() * 0.
    hinge = (margin + dist.unsqueeze(2) - dist.unsqueeze(1)).clamp(min=0)
    return hinge[valid].mean()


@MODELS.register_module()
class TripletRankingLoss(nn.Module):
    """Triplet ranking loss on labelled codes; see
    :func:`triplet_ranking_loss`.

    Args:
        margin (float): Margin m. Defaults to 1.0.
        loss_weight (float): Weight. Defaults to 1.0.
    """

    def __init__(self, margin: float = 1.0, loss_weight: float = 1.0):
        super().__init__()
        self.margin = margin
        self.loss_weight = loss_weight

    def forward(self, codes: torch.Tensor,
                labels: torch.Tensor) -> torch.Tensor:
        """Args: codes (N, q); labels (N, C) multi-hot.

        Returns:
            torch.Tensor: The weighted scalar loss.
        """
        return self.loss_weight * triplet_ranking_loss(codes, labels,
                                                       self.margin)
