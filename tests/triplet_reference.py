"""The triplet ranking loss as it was first written: every triplet's hinge
in an (N, N, N) tensor, then the mean over the valid ones. The reference
the O(N^2) implementation is tested (tests/test_models) and benchmarked
(benchmarks/triplet_loss_memory.py) against. Named apart from test files
so no test folder shadows it."""
import torch

from hashplugins.models.utils import label_similarity


def direct_triplet_ranking_loss(codes, labels, margin=1.0):
    """Mean of ``max(0, m + d_ij - d_ik)`` over all valid triplets."""
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
