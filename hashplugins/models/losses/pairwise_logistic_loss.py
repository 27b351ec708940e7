"""Pairwise logistic likelihood on code inner products (DPSH, DHN)."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.registry import MODELS

from ..utils import label_similarity
from .utils import float32_loss


@float32_loss
def pairwise_logistic_loss(codes: torch.Tensor,
                           similarity: torch.Tensor,
                           scale: float = 0.5,
                           include_self_pairs: bool = True,
                           targets: torch.Tensor = None) -> torch.Tensor:
    r"""Negative log-likelihood of pairwise labels given code inner products.

    .. math::
        \Theta_{ij} = \text{scale}\cdot u_i^\top u_j,\qquad
        L = \operatorname{mean}_{i,j}\big[\log(1 + e^{\Theta_{ij}})
            - s_{ij}\Theta_{ij}\big]

    This is DPSH's likelihood term (Li et al., IJCAI 2016), with
    ``scale = 1/2``. ``log(1 + e^x)`` is evaluated stably as softplus,
    in float32 under AMP
    (:func:`~hashplugins.models.losses.utils.float32_loss`).
    With ``targets`` (asymmetric hashing, e.g. DADH) the pairs are
    :math:`\Theta_{ij} = \text{scale}\cdot u_i^\top v_j` between ``codes``
    and ``targets``.

    Args:
        codes (torch.Tensor): Continuous codes, shape (N, B).
        similarity (torch.Tensor): (N, N) pairwise labels in {0, 1}.
        scale (float): Factor on the inner product. Defaults to 0.5.
        include_self_pairs (bool): Whether the N diagonal pairs (i, i) count,
            as in DeepHash-pytorch's DPSH. Defaults to True. Must be True
            with ``targets`` (there is no diagonal to leave out).
        targets (torch.Tensor, optional): (M, B) codes v of the other side
            of each pair; ``similarity`` is then (N, M). Defaults to None
            (pairs within ``codes``).

    Returns:
        torch.Tensor: Scalar loss, the mean over the counted ordered pairs.
    """
    if targets is not None and not include_self_pairs:
        raise ValueError('include_self_pairs=False needs targets=None')
    theta = scale * codes @ (codes if targets is None else targets).t()
    nll = F.softplus(theta) - similarity * theta
    if include_self_pairs:
        return nll.mean()
    n = codes.shape[0]
    if n < 2:
        return nll.sum() * 0.
    off_diagonal = ~torch.eye(n, dtype=torch.bool, device=codes.device)
    return nll[off_diagonal].mean()


@MODELS.register_module()
class PairwiseLogisticLoss(nn.Module):
    """Pairwise logistic likelihood loss over the batch (DPSH).

    See :func:`pairwise_logistic_loss` for the formula.

    Args:
        scale (float): Factor on the inner product. Defaults to 0.5.
        include_self_pairs (bool): Count the (i, i) pairs. Defaults to True.
        loss_weight (float): Weight of the loss. Defaults to 1.0.
    """

    #: Pairs are formed within the batch the loss is given (the global
    #: batch under a head with gather_across_ranks): a batch of one sample
    #: has none. Checked when training starts (BatchSizeCheckHook).
    min_samples_per_batch = 2

    def __init__(self,
                 scale: float = 0.5,
                 include_self_pairs: bool = True,
                 loss_weight: float = 1.0):
        super().__init__()
        self.scale = scale
        self.include_self_pairs = include_self_pairs
        self.loss_weight = loss_weight

    def forward(self, codes: torch.Tensor,
                labels: torch.Tensor) -> torch.Tensor:
        """Args: codes (N, B) continuous codes; labels (N, C) multi-hot.

        Returns:
            torch.Tensor: The weighted scalar loss.
        """
        similarity = label_similarity(labels).to(codes.dtype)
        return self.loss_weight * pairwise_logistic_loss(
            codes, similarity, self.scale, self.include_self_pairs)
