"""CSQ's central similarity loss to fixed hash centres (Yuan et al., CVPR
2020).

Every class gets a hash centre, a point of {-1, +1}^K far (in Hamming
distance) from the other classes' centres; each code is pulled towards the
centre of its labels by a bit-wise binary cross-entropy. The loss is per
sample, so it needs no pairs and does not depend on what else is in the
batch. The centres are drawn once, deterministically from a seed, and kept
as a buffer: every DDP rank builds the same ones, and checkpoints carry
them.
"""
import math
import numbers
from typing import Optional

import torch
import torch.nn as nn
from mmpretrain.registry import MODELS

from ..utils import check_true
from .utils import float32_loss

CENTER_MODES = ('auto', 'hadamard', 'random', 'hadamard_then_random')
RANDOM_BITS = ('bernoulli', 'balanced')


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_power_of_two(k: int) -> bool:
    return k >= 1 and k & (k - 1) == 0


def hadamard_matrix(order: int) -> torch.Tensor:
    """The Sylvester Hadamard matrix of a power-of-two order.

    :math:`H_1 = [1]`, :math:`H_{2m} = [[H_m, H_m], [H_m, -H_m]]`: the same
    matrix, row for row, as ``scipy.linalg.hadamard`` (which the CSQ
    authors and DeepHash-pytorch use). Its rows are pairwise orthogonal, so
    two rows differ in exactly ``order / 2`` entries.

    Args:
        order (int): A power of two.

    Returns:
        torch.Tensor: (order, order) float matrix of +-1.
    """
    if not _is_int(order) or not _is_power_of_two(order):
        raise ValueError(f'hadamard_matrix: order must be a power of two, '
                         f'got {order!r}')
    h = torch.ones(1, 1)
    while h.shape[0] < order:
        h = torch.cat([torch.cat([h, h], 1), torch.cat([h, -h], 1)], 0)
    return h


def pairwise_hamming(centers: torch.Tensor) -> torch.Tensor:
    """Hamming distances between the distinct pairs of +-1 rows.

    Args:
        centers (torch.Tensor): (C, K) rows of +-1.

    Returns:
        torch.Tensor: The C (C - 1) / 2 distances of the pairs i < j.
    """
    k = centers.shape[1]
    dist = 0.5 * (k - centers @ centers.t())
    rows, cols = torch.triu_indices(len(centers), len(centers), offset=1)
    return dist[rows, cols]


def _random_rows(num: int, num_bits: int, random_bits: str,
                 generator: torch.Generator) -> torch.Tensor:
    if random_bits == 'bernoulli':  # each bit +-1 with probability 1/2
        return torch.randint(0, 2, (num, num_bits),
                             generator=generator).float() * 2 - 1
    # 'balanced': exactly floor(K/2) bits are -1, at random positions
    rows = torch.ones(num, num_bits)
    for i in range(num):
        picks = torch.randperm(num_bits, generator=generator)
        rows[i, picks[:num_bits // 2]] = -1
    return rows


def make_hash_centers(num_classes: int,
                      num_bits: int,
                      mode: str = 'auto',
                      seed: int = 0,
                      random_bits: str = 'bernoulli',
                      min_distance: Optional[float] = 1,
                      min_mean_distance: Optional[float] = None,
                      max_draws: int = 1000) -> torch.Tensor:
    """Hash centres for ``num_classes`` classes (CSQ Algorithm 1).

    * ``'hadamard'``: the first C rows of :math:`[H_K; -H_K]`; needs K a
      power of two and :math:`C \\le 2K`. Any two differ in K/2 or K bits.
    * ``'random'``: C rows drawn at random (``random_bits``).
    * ``'auto'`` (paper): ``'hadamard'`` where it applies, else
      ``'random'``.
    * ``'hadamard_then_random'`` (DeepHash-pytorch): the 2K Hadamard rows,
      then random rows for the classes beyond 2K.

    Random rows are redrawn, up to ``max_draws`` times, until every pair of
    centres is at least ``min_distance`` apart and their mean distance is
    at least ``min_mean_distance`` (the authors' notebook: min >= 20 and
    mean >= 32 at K = 64; DeepHash-pytorch: min > K/4, mean >= K/2); a
    requirement no draw meets raises instead of returning weaker centres.
    Deterministic in ``seed`` (a private generator: the global RNG is
    neither read nor advanced), so every rank builds the same centres.

    Args:
        num_classes (int): C.
        num_bits (int): K.
        mode (str): See above. Defaults to ``'auto'``.
        seed (int): Seed of the draws. Defaults to 0.
        random_bits (str): ``'bernoulli'`` (paper: each bit +-1 with
            probability 1/2) or ``'balanced'`` (authors' notebook and
            DeepHash-pytorch: exactly floor(K/2) bits are -1).
        min_distance (float, optional): Smallest allowed Hamming distance
            between two centres. Defaults to 1 (no two classes share a
            centre); None: no requirement.
        min_mean_distance (float, optional): Smallest allowed mean
            pairwise distance. Defaults to None.
        max_draws (int): How many random draws to try. Defaults to 1000.

    Returns:
        torch.Tensor: (C, K) float centres of +-1.
    """
    for name, value in (('num_classes', num_classes), ('num_bits', num_bits),
                        ('max_draws', max_draws)):
        if not _is_int(value) or value < 1:
            raise ValueError(f'make_hash_centers: {name} must be a positive '
                             f'int, got {value!r}')
    if mode not in CENTER_MODES:
        raise ValueError(f'make_hash_centers: mode must be one of '
                         f'{list(CENTER_MODES)}, got {mode!r}')
    if random_bits not in RANDOM_BITS:
        raise ValueError(f'make_hash_centers: random_bits must be one of '
                         f'{list(RANDOM_BITS)}, got {random_bits!r}')
    if not _is_int(seed):
        raise ValueError(f'make_hash_centers: seed must be an int, '
                         f'got {seed!r}')
    for name, value in (('min_distance', min_distance),
                        ('min_mean_distance', min_mean_distance)):
        if value is not None and (not isinstance(value, numbers.Real)
                                  or isinstance(value, bool) or value < 0):
            raise ValueError(f'make_hash_centers: {name} must be None or a '
                             f'number >= 0, got {value!r}')
    hadamard_ok = _is_power_of_two(num_bits) and num_classes <= 2 * num_bits
    if mode == 'auto':
        mode = 'hadamard' if hadamard_ok else 'random'
    if mode in ('hadamard', 'hadamard_then_random') and \
            not _is_power_of_two(num_bits):
        raise ValueError(f"make_hash_centers: mode={mode!r} needs num_bits "
                         f'a power of two, got {num_bits}')
    if mode == 'hadamard' and not hadamard_ok:
        raise ValueError(
            f"make_hash_centers: mode='hadamard' gives at most 2 x num_bits "
            f'= {2 * num_bits} centres, but num_classes={num_classes}; use '
            "mode='random', 'hadamard_then_random' or 'auto'")
    if mode == 'random':
        fixed = torch.zeros(0, num_bits)
    else:
        h = hadamard_matrix(num_bits)
        fixed = torch.cat([h, -h])[:num_classes]
    num_random = num_classes - len(fixed)
    generator = torch.Generator().manual_seed(seed)
    draws = max_draws if num_random else 1
    best = None
    for _ in range(draws):
        centers = torch.cat([
            fixed,
            _random_rows(num_random, num_bits, random_bits, generator)
        ])
        if num_classes < 2:
            return centers
        dist = pairwise_hamming(centers)
        low, mean = float(dist.min()), float(dist.mean())
        if (min_distance is None or low >= min_distance) and (
                min_mean_distance is None or mean >= min_mean_distance):
            return centers
        if best is None or (low, mean) > best:
            best = (low, mean)
    raise ValueError(
        f'make_hash_centers: no draw of {num_classes} centres of {num_bits} '
        f'bits (mode={mode!r}, {draws} draw(s)) met min_distance='
        f'{min_distance} and min_mean_distance={min_mean_distance}; the '
        f'best had min {best[0]:g}, mean {best[1]:.2f}. Lower the '
        'requirements, raise max_draws or use more bits.')


# log(x / 2) is floored at -100 below this x, as torch.nn.BCELoss floors
# its logs (2 e^-100, a float32 denormal: in practice "x > 0").
_LOG_FLOOR_X = 2 * math.exp(-100.)


def _floored_log_half(x: torch.Tensor) -> torch.Tensor:
    """log(x / 2), floored at -100, with a zero (not NaN) gradient where
    floored."""
    ok = x > _LOG_FLOOR_X
    safe = torch.where(ok, x, torch.ones_like(x))
    return torch.where(ok, torch.log(safe) - math.log(2.),
                       torch.full_like(x, -100.))


@float32_loss
def central_similarity_loss(codes: torch.Tensor,
                            targets: torch.Tensor) -> torch.Tensor:
    r"""Bit-wise binary cross-entropy between codes and their hash centres.

    .. math::
        p_{ik} = \frac{1 + h_{ik}}{2},\quad t_{ik} = \frac{1 + c_{ik}}{2},
        \qquad
        L_C = -\frac{1}{NK}\sum_{i=1}^{N}\sum_{k=1}^{K}
              \bigl[t_{ik}\log p_{ik} + (1 - t_{ik})\log(1 - p_{ik})\bigr]

    for tanh codes :math:`h_i \in [-1, 1]^K` and centres
    :math:`c_i \in \{-1, 1\}^K`: ``nn.BCELoss()(0.5 * (h + 1), 0.5 * (c +
    1))`` of the authors' code and DeepHash-pytorch. Each log is floored at
    -100, as ``BCELoss`` does, so a bit saturated on the wrong side costs
    100 rather than infinity, with a zero gradient. :math:`1 - p` is
    computed as :math:`(1 - h)/2`, not as :math:`1 - (1 + h)/2`, which
    rounds to 0 in float32 for :math:`h > 1 - 2^{-24}`; so near saturation
    the gradient is the formula's rather than ``BCELoss``'s 1e12-scaled
    one, and half-precision gradients stay finite. The mean is over
    samples and bits: the loss of a batch is the average of its samples'
    losses. Computed in float32 under AMP.

    Args:
        codes (torch.Tensor): (N, K) codes in [-1, 1].
        targets (torch.Tensor): (N, K) centres of +-1 (or any values in
            [-1, 1]).

    Returns:
        torch.Tensor: Scalar loss.
    """
    if codes.shape != targets.shape:
        raise ValueError(f'central_similarity_loss: codes {tuple(codes.shape)}'
                         f' and targets {tuple(targets.shape)} differ')
    t = 0.5 * (1 + targets.to(codes.dtype))
    log_p = _floored_log_half(1 + codes)
    log_not_p = _floored_log_half(1 - codes)
    return -(t * log_p + (1 - t) * log_not_p).mean()


@MODELS.register_module()
class CentralSimilarityLoss(nn.Module):
    """CSQ's central similarity loss; see :func:`central_similarity_loss`.

    The centre of a sample is its class's centre, or for several labels the
    sign of the sum (equivalently the mean) of their centres, with bits
    where it is 0 (a tie) taken from one fixed random +-1 vector
    (``tie_break``), as in the authors' code and DeepHash-pytorch. Centres
    and tie vector are buffers, drawn in ``__init__`` from ``seed``
    (:func:`make_hash_centers`, then the tie vector from the same
    generator's next draw); a loaded checkpoint replaces them.

    Args:
        num_classes (int): Number of classes C (the label width).
        num_bits (int): Code length K; must equal the hash head's.
        center_mode (str): ``'auto'`` (paper), ``'hadamard'``, ``'random'``
            or ``'hadamard_then_random'`` (DeepHash-pytorch). Defaults to
            ``'auto'``.
        seed (int): Seed of the random centres and the tie vector.
            Defaults to 0.
        random_bits (str): ``'bernoulli'`` (paper) or ``'balanced'``
            (authors' notebook, DeepHash-pytorch). Defaults to
            ``'bernoulli'``.
        min_distance (float, optional): See :func:`make_hash_centers`.
            Defaults to 1.
        min_mean_distance (float, optional): See
            :func:`make_hash_centers`. Defaults to None.
        max_draws (int): See :func:`make_hash_centers`. Defaults to 1000.
        loss_weight (float): Weight of the loss. Defaults to 1.0.
    """

    def __init__(self,
                 num_classes: int,
                 num_bits: int,
                 center_mode: str = 'auto',
                 seed: int = 0,
                 random_bits: str = 'bernoulli',
                 min_distance: Optional[float] = 1,
                 min_mean_distance: Optional[float] = None,
                 max_draws: int = 1000,
                 loss_weight: float = 1.0):
        super().__init__()
        centers = make_hash_centers(num_classes, num_bits, center_mode, seed,
                                    random_bits, min_distance,
                                    min_mean_distance, max_draws)
        # A generator of its own (offset seed), so the tie vector does not
        # depend on how many draws the centres took.
        tie = torch.Generator().manual_seed(seed + 1)
        tie_break = torch.randint(0, 2, (num_bits, ),
                                  generator=tie).float() * 2 - 1
        self.num_classes = num_classes
        self.num_bits = num_bits
        self.center_mode = center_mode
        self.seed = seed
        self.loss_weight = loss_weight
        self.register_buffer('centers', centers)
        self.register_buffer('tie_break', tie_break)

    def sample_centers(self, labels: torch.Tensor) -> torch.Tensor:
        """The hash centre of each sample from its multi-hot labels.

        Args:
            labels (torch.Tensor): (N, C) multi-hot labels, each row with
                at least one label.

        Returns:
            torch.Tensor: (N, K) centres of +-1.
        """
        if labels.ndim != 2 or labels.shape[1] != self.num_classes:
            raise ValueError(
                f'{type(self).__name__}: labels must be (N, '
                f'{self.num_classes}) multi-hot rows, got '
                f'{tuple(labels.shape)}; set model.head.num_classes='
                f'{self.num_classes} so the head gives every batch the full '
                'label width')
        check_true(labels.sum(1) > 0,
                   f'{type(self).__name__}: a sample has no label, so it has '
                   'no hash centre; give every training sample a label')
        # Sum, not mean: the sign is the same and no division is needed.
        total = labels.to(self.centers.dtype) @ self.centers
        return torch.where(total > 0, 1.,
                           torch.where(total < 0, -1.,
                                       self.tie_break)).to(total.dtype)

    def forward(self, codes: torch.Tensor,
                labels: torch.Tensor) -> torch.Tensor:
        """Args: codes (N, K) tanh codes; labels (N, C) multi-hot.

        Returns:
            torch.Tensor: The weighted scalar loss.
        """
        if codes.ndim != 2 or codes.shape[1] != self.num_bits:
            raise ValueError(
                f'{type(self).__name__}: got codes of shape '
                f'{tuple(codes.shape)}, but num_bits={self.num_bits}; make '
                "the loss's num_bits equal model.head.num_bits")
        if labels.shape[0] != codes.shape[0]:
            raise ValueError(f'{type(self).__name__}: {codes.shape[0]} codes '
                             f'but {labels.shape[0]} label rows')
        check_true((codes >= -1) & (codes <= 1),
                   f'{type(self).__name__}: codes must lie in [-1, 1]; use '
                   "activation='tanh' in the hash head")
        targets = self.sample_centers(labels)
        return self.loss_weight * central_similarity_loss(codes, targets)

    def extra_repr(self) -> str:
        return (f'num_classes={self.num_classes}, num_bits={self.num_bits}, '
                f'center_mode={self.center_mode!r}, seed={self.seed}, '
                f'loss_weight={self.loss_weight}')
