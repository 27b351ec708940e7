"""DCH's Cauchy cross-entropy and Cauchy quantization (Cao et al., CVPR 2018).

Deep Cauchy Hashing models the probability that two codes are similar as a
Cauchy kernel of their (normalised) Hamming distance, which decays much
faster than a sigmoid at small distances and so pulls similar pairs into a
small Hamming ball. Both losses act on the global batch's codes (the hash
head gathers them across ranks); nothing is kept for the whole training set.
"""
import numbers
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.registry import MODELS

from ..utils import label_similarity
from .utils import float32_loss

DISTANCES = ('cosine', 'squared_euclidean')
PAIR_WEIGHTINGS = ('paper', 'official', 'none')
REDUCTIONS = ('mean', 'sum')


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_choice(owner: str, name: str, value, allowed) -> None:
    if value not in allowed:
        raise ValueError(f'{owner}: {name} must be one of {list(allowed)}, '
                         f'got {value!r}')


def _check_positive(owner: str, name: str, value) -> None:
    if not _is_number(value) or not value > 0:
        raise ValueError(f'{owner}: {name} must be a positive number, '
                         f'got {value!r}')


def _check_max_cos(owner: str, max_cos) -> None:
    if max_cos is not None and (not _is_number(max_cos)
                                or not -1 < max_cos < 1):
        raise ValueError(f'{owner}: max_cos must be None or a number in '
                         f'(-1, 1), got {max_cos!r}')


def _cosine(codes: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
    # A zero row has no direction: F.normalize leaves it zero (norm floored
    # at 1e-12), so its cosine with anything is 0 and no NaN appears.
    return F.normalize(codes, dim=1) @ F.normalize(other, dim=1).t()


def cauchy_distance(codes: torch.Tensor,
                    other: Optional[torch.Tensor] = None,
                    distance: str = 'cosine',
                    eps: float = 1e-3,
                    max_cos: Optional[float] = None) -> torch.Tensor:
    r"""DCH's pairwise distance between continuous codes.

    .. math::
        d_{ij} = \frac{K}{2}\bigl(1 - \min(\cos(h_i, h_j), c_{\max})\bigr)
                 + \epsilon
        \quad\text{(cosine)},\qquad
        d_{ij} = \lVert h_i - h_j \rVert^2 + \epsilon
        \quad\text{(squared Euclidean)}

    For codes in :math:`\{-1, 1\}^K` the cosine form is exactly the Hamming
    distance (paper Eq. 6) and the squared Euclidean form is four times it
    (the authors' TensorFlow code, ``normed=False``). Rounding can make
    ``1 - cos`` or the expanded squared distance slightly negative: both are
    clamped at 0 before :math:`\epsilon` is added.

    Args:
        codes (torch.Tensor): (N, K) continuous codes.
        other (torch.Tensor, optional): (M, K) codes; defaults to ``codes``.
        distance (str): ``'cosine'`` or ``'squared_euclidean'``.
        eps (float): Added to every distance (a floor that keeps
            :math:`\log(1 + \gamma/d)` finite). Defaults to 1e-3.
        max_cos (float, optional): Clamp of the cosine from above
            (DeepHash-pytorch: 0.99); cosine distance only.

    Returns:
        torch.Tensor: (N, M) distances.
    """
    other = codes if other is None else other
    if distance == 'cosine':
        cos = _cosine(codes, other)
        if max_cos is not None:
            cos = cos.clamp(max=max_cos)
        raw = 0.5 * codes.shape[1] * (1 - cos).clamp(min=0)
    elif distance == 'squared_euclidean':
        if max_cos is not None:
            raise ValueError("max_cos applies to distance='cosine' only")
        # The expansion keeps memory at N x M (no N x M x K differences).
        raw = (codes.pow(2).sum(1, keepdim=True) +
               other.pow(2).sum(1)[None, :] -
               2 * codes @ other.t()).clamp(min=0)
    else:
        raise ValueError(f'distance must be one of {list(DISTANCES)}, '
                         f'got {distance!r}')
    return raw + eps


@float32_loss
def cauchy_cross_entropy(codes: torch.Tensor,
                         similarity: torch.Tensor,
                         gamma: float = 20.,
                         distance: str = 'cosine',
                         eps: float = 1e-3,
                         max_cos: Optional[float] = None,
                         pair_weighting: str = 'paper',
                         include_self_pairs: bool = False,
                         reduction: str = 'mean') -> torch.Tensor:
    r"""Weighted Cauchy cross-entropy over the pairs of a batch (DCH).

    With the Cauchy probability :math:`\sigma(d) = \gamma / (\gamma + d)`
    that a pair at distance :math:`d` is similar (paper Eq. 4-5),

    .. math::
        \ell_{ij} = s_{ij}\log\frac{d_{ij}}{\gamma}
                    + \log\Bigl(1 + \frac{\gamma}{d_{ij}}\Bigr)
                  = s_{ij}\log\Bigl(1 + \frac{d_{ij}}{\gamma}\Bigr)
                    + (1 - s_{ij})\log\Bigl(1 + \frac{\gamma}{d_{ij}}\Bigr),
        \qquad
        L = \frac{1}{|S|}\sum_{(i,j)\in S} w_{ij}\,\ell_{ij}

    (paper Eq. 8, divided by the number of pairs :math:`|S|` as both public
    codes do; ``reduction='sum'`` gives the paper's plain sum). The second
    form is the one computed: it is the same number, and finite at
    :math:`d \to 0` for similar pairs, where the first form subtracts two
    infinities. The pair weights (paper Eq. 2) balance similar and
    dissimilar pairs, :math:`S_1` and :math:`S_0`:

    * ``'paper'``: :math:`w_{ij} = |S|/|S_1|` if :math:`s_{ij} = 1`,
      :math:`|S|/|S_0|` otherwise (also DeepHash-pytorch);
    * ``'official'``: :math:`|S|/|S_1|` and 1 (thulab/DeepHash ``dch.py``);
    * ``'none'``: all 1.

    A class with no pair contributes nothing, so its weight never matters;
    the counts are floored at 1, which makes a batch of only similar (or
    only dissimilar) pairs weigh 1 per pair, as DeepHash-pytorch's
    fallback does. Computed in float32 under AMP
    (:func:`~hashplugins.models.losses.utils.float32_loss`).

    Args:
        codes (torch.Tensor): (N, K) continuous codes.
        similarity (torch.Tensor): (N, N) pairwise labels in {0, 1}.
        gamma (float): Cauchy scale :math:`\gamma`. Defaults to 20.
        distance (str): See :func:`cauchy_distance`.
        eps (float): See :func:`cauchy_distance`.
        max_cos (float, optional): See :func:`cauchy_distance`.
        pair_weighting (str): ``'paper'``, ``'official'`` or ``'none'``.
        include_self_pairs (bool): Whether the N pairs (i, i) count, in the
            weights and in the mean (DeepHash-pytorch: yes; the authors'
            code leaves them out of the mean). Defaults to False.
        reduction (str): ``'mean'`` over the counted pairs or ``'sum'``.

    Returns:
        torch.Tensor: Scalar loss.
    """
    _check_choice('cauchy_cross_entropy', 'pair_weighting', pair_weighting,
                  PAIR_WEIGHTINGS)
    _check_choice('cauchy_cross_entropy', 'reduction', reduction, REDUCTIONS)
    n = codes.shape[0]
    if similarity.shape != (n, n):
        raise ValueError(f'cauchy_cross_entropy: similarity must be ({n}, '
                         f'{n}) for {n} codes, got {tuple(similarity.shape)}')
    d = cauchy_distance(codes, distance=distance, eps=eps, max_cos=max_cos)
    s = similarity.to(d.dtype)
    nll = s * torch.log1p(d / gamma) + (1 - s) * torch.log1p(gamma / d)
    if include_self_pairs:
        counted = torch.ones_like(s)
    else:
        counted = 1 - torch.eye(n, dtype=d.dtype, device=d.device)
    num_pairs = n * n if include_self_pairs else n * (n - 1)
    if num_pairs == 0:  # one code and no self pair: there is no pair at all
        return nll.sum() * 0.
    if pair_weighting == 'none':
        weights = counted
    else:
        positive = s * counted
        # Counts stay on the device (no host read in a training step).
        w_pos = num_pairs / positive.sum().clamp(min=1)
        if pair_weighting == 'paper':
            w_neg = num_pairs / (counted - positive).sum().clamp(min=1)
        else:
            w_neg = 1.
        weights = positive * w_pos + (counted - positive) * w_neg
    total = (weights * nll).sum()
    return total / num_pairs if reduction == 'mean' else total


@float32_loss
def cauchy_quantization(codes: torch.Tensor,
                        gamma: float = 20.,
                        max_cos: Optional[float] = None,
                        reduction: str = 'mean') -> torch.Tensor:
    r"""DCH's Cauchy quantization loss (paper Eq. 9).

    .. math::
        Q = \frac{1}{N}\sum_{i=1}^{N}
            \log\Bigl(1 + \frac{d(|h_i|, \mathbf{1})}{\gamma}\Bigr),\qquad
        d(|h_i|, \mathbf{1}) = \frac{K}{2}\Bigl(1 -
            \frac{\sum_k |h_{ik}|}{\sqrt{K}\,\lVert h_i \rVert}\Bigr)

    the cosine distance of the element-wise absolute code to the all-ones
    vector: zero exactly when every bit has the same magnitude, i.e. when
    :math:`\operatorname{sgn}(h_i)` is a scaled copy of :math:`h_i`. The
    mean over the N codes is DeepHash-pytorch's; ``reduction='sum'`` is the
    paper's sum. ``max_cos`` clamps the cosine as DeepHash-pytorch's
    (0.99 there). A zero code has cosine 0 (distance K/2). Computed in
    float32 under AMP.

    Args:
        codes (torch.Tensor): (N, K) continuous codes.
        gamma (float): Cauchy scale :math:`\gamma`. Defaults to 20.
        max_cos (float, optional): Cosine clamp. Defaults to None.
        reduction (str): ``'mean'`` or ``'sum'`` over the codes.

    Returns:
        torch.Tensor: Scalar loss.
    """
    _check_choice('cauchy_quantization', 'reduction', reduction, REDUCTIONS)
    ones = torch.ones(1, codes.shape[1], dtype=codes.dtype,
                      device=codes.device)
    # d(|h|, 1) for each code: the cosine distance to the all-ones vector,
    # no floor needed (log(1 + d/gamma) is finite at d = 0).
    d = cauchy_distance(codes.abs(), ones, 'cosine', 0., max_cos)[:, 0]
    per_code = torch.log1p(d / gamma)
    return per_code.mean() if reduction == 'mean' else per_code.sum()


@MODELS.register_module()
class CauchyCrossEntropyLoss(nn.Module):
    """DCH's weighted Cauchy cross-entropy over the (global) batch's pairs.

    See :func:`cauchy_cross_entropy` for the formula. Called as
    ``loss(codes, labels)`` by :class:`HashHead` with (N, C) multi-hot
    labels; ``s_ij = 1[y_i . y_j > 0]``.

    Args:
        gamma (float): Cauchy scale. Defaults to 20 (the authors' script
            and DeepHash-pytorch; the paper picks it by cross-validation).
        distance (str): ``'cosine'`` (paper Eq. 6, DeepHash-pytorch) or
            ``'squared_euclidean'`` (the authors' code). Defaults to
            ``'cosine'``.
        eps (float): Floor added to every distance. Defaults to 1e-3; 0 is
            allowed only with ``max_cos``.
        max_cos (float, optional): Cosine clamp (DeepHash-pytorch: 0.99).
            Defaults to None.
        pair_weighting (str): ``'paper'``, ``'official'`` or ``'none'``.
            Defaults to ``'paper'``.
        include_self_pairs (bool): Count the (i, i) pairs. Defaults to
            False.
        reduction (str): ``'mean'`` or ``'sum'``. Defaults to ``'mean'``.
        loss_weight (float): Weight of the loss. Defaults to 1.0.
    """

    min_samples_per_batch = 2  # pairs within the batch it is given

    def __init__(self,
                 gamma: float = 20.,
                 distance: str = 'cosine',
                 eps: float = 1e-3,
                 max_cos: Optional[float] = None,
                 pair_weighting: str = 'paper',
                 include_self_pairs: bool = False,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0):
        super().__init__()
        owner = type(self).__name__
        _check_positive(owner, 'gamma', gamma)
        _check_choice(owner, 'distance', distance, DISTANCES)
        _check_choice(owner, 'pair_weighting', pair_weighting,
                      PAIR_WEIGHTINGS)
        _check_choice(owner, 'reduction', reduction, REDUCTIONS)
        _check_max_cos(owner, max_cos)
        if not _is_number(eps) or eps < 0:
            raise ValueError(f'{owner}: eps must be a number >= 0, '
                             f'got {eps!r}')
        if max_cos is not None and distance != 'cosine':
            raise ValueError(f"{owner}: max_cos applies to "
                             f"distance='cosine' only, got distance="
                             f'{distance!r} with max_cos={max_cos!r}')
        if eps == 0 and max_cos is None:
            raise ValueError(
                f'{owner}: eps=0 without max_cos lets a dissimilar pair of '
                'equal codes have distance 0 and an infinite loss; set '
                'eps > 0 or max_cos < 1')
        if not isinstance(include_self_pairs, bool):
            raise ValueError(f'{owner}: include_self_pairs must be a bool, '
                             f'got {include_self_pairs!r}')
        self.gamma = float(gamma)
        self.distance = distance
        self.eps = float(eps)
        self.max_cos = max_cos
        self.pair_weighting = pair_weighting
        self.include_self_pairs = include_self_pairs
        self.reduction = reduction
        self.loss_weight = loss_weight

    def forward(self, codes: torch.Tensor,
                labels: torch.Tensor) -> torch.Tensor:
        """Args: codes (N, K) continuous codes; labels (N, C) multi-hot.

        Returns:
            torch.Tensor: The weighted scalar loss.
        """
        if labels.shape[0] != codes.shape[0]:
            raise ValueError(f'{type(self).__name__}: {codes.shape[0]} codes '
                             f'but {labels.shape[0]} label rows')
        return self.loss_weight * cauchy_cross_entropy(
            codes, label_similarity(labels), self.gamma, self.distance,
            self.eps, self.max_cos, self.pair_weighting,
            self.include_self_pairs, self.reduction)

    def extra_repr(self) -> str:
        return (f'gamma={self.gamma}, distance={self.distance!r}, '
                f'eps={self.eps}, max_cos={self.max_cos}, '
                f'pair_weighting={self.pair_weighting!r}, '
                f'include_self_pairs={self.include_self_pairs}, '
                f'reduction={self.reduction!r}, '
                f'loss_weight={self.loss_weight}')


@MODELS.register_module()
class CauchyQuantizationLoss(nn.Module):
    """DCH's Cauchy quantization loss; see :func:`cauchy_quantization`.

    Args:
        gamma (float): Cauchy scale, the same as the cross-entropy's in the
            paper. Defaults to 20.
        max_cos (float, optional): Cosine clamp (DeepHash-pytorch: 0.99).
            Defaults to None.
        reduction (str): ``'mean'`` or ``'sum'`` over the codes. Defaults
            to ``'mean'``.
        loss_weight (float): The paper's :math:`\\lambda`. Defaults to 1.0.
    """

    def __init__(self,
                 gamma: float = 20.,
                 max_cos: Optional[float] = None,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0):
        super().__init__()
        owner = type(self).__name__
        _check_positive(owner, 'gamma', gamma)
        _check_max_cos(owner, max_cos)
        _check_choice(owner, 'reduction', reduction, REDUCTIONS)
        self.gamma = float(gamma)
        self.max_cos = max_cos
        self.reduction = reduction
        self.loss_weight = loss_weight

    def forward(self, codes: torch.Tensor, labels=None) -> torch.Tensor:
        """Args: codes (N, K); labels are ignored (unsupervised term).

        Returns:
            torch.Tensor: The weighted scalar loss.
        """
        return self.loss_weight * cauchy_quantization(
            codes, self.gamma, self.max_cos, self.reduction)

    def extra_repr(self) -> str:
        return (f'gamma={self.gamma}, max_cos={self.max_cos}, '
                f'reduction={self.reduction!r}, '
                f'loss_weight={self.loss_weight}')
