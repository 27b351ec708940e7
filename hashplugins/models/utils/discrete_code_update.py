r"""The discrete step of asymmetric deep hashing: update the learned codes B.

Row notation: N training items, k bits; ``B`` (N, k) in {-1, +1}; the
stream outputs ``X_s`` (N, k) (pre-activation, or tanh'd where the gap
term says so) and their tanh ``F̃_s``. With everything but B fixed, the
part of DADH's objective (spec/methods.md §6.3) that depends on B is

.. math::
    J(B) = \mu \sum_s \sum_{i,j} \ell(\tilde f_{s,i}, b_j, S_{ij})
         + \gamma \sum_s \lVert X_s - B \rVert_F^2

summed over **all N x N pairs** (i, j): the features of every training
item i against the code of every training item j, because in DADH (as in
ADSH with the database = the training set) both the real-valued features
and the learned codes cover the whole training set. Two forms of the
code <-> feature term ``ℓ`` are supported:

* inner-product regression (ADSH-style):
  :math:`\ell = (\tilde f_i^\top b_j - c\,T_{ij})^2` with the target
  similarity :math:`T = aS + b` (a = 2, b = -1: :math:`\tilde S`).
  Expanding, with :math:`\lVert b_j\rVert^2 = k`,

  .. math::
      J(B) = \sum_j b_j^\top P b_j + \sum_j q_j^\top b_j + \text{const},\quad
      P = \mu \sum_s \tilde F_s^\top \tilde F_s,\quad
      Q = -2\mu c\, T \sum_s \tilde F_s - 2\gamma \sum_s X_s

  (the spec's ``P = F̃F̃ᵀ + G̃G̃ᵀ``, ``Q = −2k(F̃+G̃)S̃ − 2γ(F+G)``,
  transposed, with μ = 1, c = k, T = S̃).
* logistic likelihood :math:`\ell = \log(1+e^{\phi}) - S_{ij}\phi`,
  :math:`\phi = \text{scale}\cdot\tilde f_i^\top b_j`. Not quadratic, so
  the step minimises the quadratic majorizer at the current codes B0
  (softplus'' <= 1/4): a DCC step on it never increases the true J
  (majorize-minimize); see :class:`LogisticCodeProblem`. Building it costs
  O(N^2 k), in column blocks.

The quadratic objective separates over the rows b_j but not over bits,
so it is minimised by discrete cyclic coordinate descent (DCC): for bit r,
:math:`B_{:,r} \leftarrow -\operatorname{sign}(2 B_{:,\neg r} P_{\neg r, r}
+ Q_{:,r})`, which is the exact minimiser over column r with the other
bits fixed; a bit keeps its value where the field is exactly 0, so a
sweep never increases J. The closed-form option
:math:`B = \operatorname{sign}(-Q)` drops the quadratic term (exact only
when P is negligible); it is the "closed-form update" sometimes attributed
to DADH and carries no monotonicity guarantee.
"""
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

from .blockwise_similarity import similar_pair_count, similarity_matmul
from .similarity import label_similarity


@dataclass
class QuadraticCodeObjective:
    r""":math:`J(B) = \sum_j b_j^\top P b_j + \sum_j q_j^\top b_j + c`.

    Attributes:
        P (torch.Tensor): (k, k) symmetric.
        Q (torch.Tensor): (N, k).
        const (float): The constant c.
    """
    P: torch.Tensor
    Q: torch.Tensor
    const: float = 0.

    def __call__(self, codes: torch.Tensor) -> float:
        """Value of the objective at ``codes`` (N, k), in float64."""
        codes = codes.double()
        quad = ((codes @ self.P.double()) * codes).sum()
        return float(quad + (self.Q.double() * codes).sum()) + self.const


def _check_streams(outputs: Sequence[torch.Tensor],
                   gap_outputs: Sequence[torch.Tensor], labels, codes=None):
    if not outputs or len(outputs) != len(gap_outputs):
        raise ValueError('need one tanh output and one gap output per '
                         f'stream, got {len(outputs)} and {len(gap_outputs)}')
    shape = outputs[0].shape
    for x in list(outputs) + list(gap_outputs) + (
            [codes] if codes is not None else []):
        if x.shape != shape:
            raise ValueError(f'stream outputs and codes must all be (N, k) = '
                             f'{tuple(shape)}, got {tuple(x.shape)}')
    if labels.shape[0] != shape[0]:
        raise ValueError(f'labels have {labels.shape[0]} rows, outputs '
                         f'{shape[0]}')


def _gap_terms(gap_outputs, gap_weight):
    """Linear coefficient and constant of γ Σ_s ‖X_s − B‖² (‖B‖² = Nk)."""
    linear = -2 * gap_weight * sum(gap_outputs)
    const = gap_weight * sum(
        float(x.double().pow(2).sum()) + x.numel() for x in gap_outputs)
    return linear, const


def inner_product_code_objective(outputs: Sequence[torch.Tensor],
                                 gap_outputs: Sequence[torch.Tensor],
                                 labels: torch.Tensor,
                                 code_weight: float = 1.,
                                 gap_weight: float = 0.,
                                 target_scale: Optional[float] = None,
                                 affine: Tuple[float, float] = (2., -1.),
                                 block_size: int = 1024
                                 ) -> QuadraticCodeObjective:
    r"""J(B) for the inner-product regression form, exactly, as (P, Q, c).

    .. math::
        J(B) = \mu \sum_s \lVert \tilde F_s B^\top - c\,(aS + b) \rVert_F^2
             + \gamma \sum_s \lVert X_s - B \rVert_F^2

    Costs O(N k^2) plus one :func:`similarity_matmul` (no N x N matrix).

    Args:
        outputs (Sequence[torch.Tensor]): tanh'd outputs F̃_s, (N, k) each.
        gap_outputs (Sequence[torch.Tensor]): X_s of the gap term (N, k).
        labels (torch.Tensor): (N, C) multi-hot labels of the N items.
        code_weight (float): μ. Defaults to 1.
        gap_weight (float): γ. Defaults to 0.
        target_scale (float, optional): c; None means k.
        affine (tuple): (a, b) of the target aS + b; (2, -1) is
            :math:`\tilde S` (see ``similarity_affine`` of the loss).
        block_size (int): Label-pattern block size.

    Returns:
        QuadraticCodeObjective: P, Q and the constant.
    """
    _check_streams(outputs, gap_outputs, labels)
    n, k = outputs[0].shape
    c = float(k if target_scale is None else target_scale)
    P = code_weight * sum(x.t() @ x for x in outputs)
    linear, const = _gap_terms(gap_outputs, gap_weight)
    a, b = affine
    Q = linear - 2 * code_weight * c * similarity_matmul(
        labels, sum(outputs), a, b, block_size=block_size)
    # sum_ij (a s_ij + b)^2 = (a^2 + 2ab) #similar + b^2 N^2, as s^2 = s.
    squares = (a * a + 2 * a * b) * similar_pair_count(
        labels, block_size) + b * b * float(n) * n
    const += code_weight * len(outputs) * c * c * squares
    return QuadraticCodeObjective(P, Q, const)


@dataclass
class LogisticCodeProblem:
    r"""J(B) for the logistic form of the code <-> feature term.

    .. math::
        J(B) = \mu \sum_s \sum_{i,j} \big[\log(1 + e^{\phi^s_{ij}})
               - S_{ij}\phi^s_{ij}\big]
             + \gamma \sum_s \lVert X_s - B \rVert_F^2,\quad
        \phi^s_{ij} = \text{scale}\cdot\tilde f_{s,i}^\top b_j

    Both methods cost O(N^2 k), computed in column blocks of
    ``N x block_size`` (auto: about 4M entries).

    Attributes:
        outputs, gap_outputs, labels, code_weight, gap_weight: As in
            :func:`inner_product_code_objective`.
        scale (float): Factor on the inner product. Defaults to 0.5.
        block_size (int, optional): Columns per block (auto if None).
    """
    outputs: Sequence[torch.Tensor]
    gap_outputs: Sequence[torch.Tensor]
    labels: torch.Tensor
    code_weight: float = 1.
    gap_weight: float = 0.
    scale: float = 0.5
    block_size: Optional[int] = None

    def _pass(self, codes: torch.Tensor, linear=None) -> float:
        """J(codes); with ``linear`` (N, k), also add
        :math:`\mu\,\text{scale}\sum_s (\sigma(\phi^s) - S)^\top
        \tilde F_s` to it."""
        _check_streams(self.outputs, self.gap_outputs, self.labels, codes)
        n = codes.shape[0]
        # About 4M entries per N x block matrix keeps the O(N^2) passes in
        # pieces of ~32 MB (float64) whatever N is.
        step = self.block_size or max(1, (1 << 22) // max(n, 1))
        total = 0.
        for start in range(0, n, step):
            stop = min(start + step, n)
            sim = label_similarity(self.labels,
                                   self.labels[start:stop]).to(codes)
            for x in self.outputs:
                theta = self.scale * x @ codes[start:stop].t()
                total += float(
                    (F.softplus(theta) - sim * theta).double().sum())
                if linear is not None:
                    linear[start:stop] += self.code_weight * self.scale * (
                        (torch.sigmoid(theta) - sim).t() @ x)
        gap = sum(
            float((x - codes).double().pow(2).sum())
            for x in self.gap_outputs)
        return self.code_weight * total + self.gap_weight * gap

    def objective(self, codes: torch.Tensor) -> float:
        """J(codes), exactly."""
        return self._pass(codes)

    def surrogate(self, codes: torch.Tensor) -> QuadraticCodeObjective:
        r"""Quadratic majorizer of J at B0 = ``codes``.

        With :math:`\log(1+e^{\phi}) \le \log(1+e^{\phi_0}) +
        \sigma(\phi_0)(\phi - \phi_0) + (\phi - \phi_0)^2/8`:

        .. math::
            P = \tfrac{\mu\,\text{scale}^2}{8}\sum_s \tilde F_s^\top
                \tilde F_s,\quad
            q_j = \mu\,\text{scale}\sum_s\Big[\sum_i(\sigma(\phi^s_{0,ij})
                  - S_{ij})\tilde f_{s,i}
                  - \tfrac{\text{scale}}{4}\tilde F_s^\top\tilde F_s
                  b_{0,j}\Big] - 2\gamma\sum_s x_{s,j}

        and the constant makes it equal J at B0, so it upper-bounds J
        everywhere and touches it at B0: a DCC step on it never increases J.

        Returns:
            QuadraticCodeObjective: the majorizer.
        """
        w, s = self.code_weight, self.scale
        gram = sum(x.t() @ x for x in self.outputs)
        linear, _ = _gap_terms(self.gap_outputs, self.gap_weight)
        linear = linear - w * s * s / 4 * (codes @ gram)
        value = self._pass(codes, linear)
        surrogate = QuadraticCodeObjective(w * s * s / 8 * gram, linear)
        surrogate.const = value - surrogate(codes)
        return surrogate


def dcc_update(codes: torch.Tensor,
               objective: QuadraticCodeObjective,
               sweeps: int = 1) -> torch.Tensor:
    r"""Discrete cyclic coordinate descent on a quadratic code objective.

    For r = 1..k (``sweeps`` times):
    :math:`B_{:,r} \leftarrow -\operatorname{sign}(2 B_{:,\neg r}
    P_{\neg r,r} + Q_{:,r})`, keeping the old bit where the argument is 0.
    Each step is the exact minimiser over bit r, so J never increases.
    Cost O(N k^2) per sweep, memory O(N k).

    Args:
        codes (torch.Tensor): Current B, (N, k) of ±1 (not modified).
        objective (QuadraticCodeObjective): P (symmetric) and Q.
        sweeps (int): Passes over the k bits. Defaults to 1.

    Returns:
        torch.Tensor: The updated codes, (N, k), dtype of ``codes``.
    """
    if sweeps < 1:
        raise ValueError(f'sweeps must be >= 1, got {sweeps}')
    P, Q = objective.P, objective.Q
    # Bit-major copy: each step reads and writes one contiguous row.
    bits = codes.t().to(Q.dtype).contiguous()
    q_bits = Q.t().contiguous()
    for _ in range(sweeps):
        for r in range(bits.shape[0]):
            field = 2 * (P[r] @ bits - P[r, r] * bits[r]) + q_bits[r]
            bits[r] = torch.where(field > 0, -1.,
                                  torch.where(field < 0, 1., bits[r]))
    return bits.t().to(codes.dtype).contiguous()


def closed_form_update(objective: QuadraticCodeObjective) -> torch.Tensor:
    r""":math:`B = \operatorname{sign}(-Q)` with sign(0) = +1.

    The minimiser when the quadratic term is dropped (or ``B^T B ≈ N I``);
    for the regression form this is
    :math:`\operatorname{sign}(\mu c \tilde S \sum_s \tilde F_s +
    \gamma \sum_s X_s)`.

    Returns:
        torch.Tensor: (N, k) codes of ±1, dtype of Q.
    """
    return torch.where(objective.Q <= 0, 1., -1.).to(objective.Q.dtype)
