"""The training-set state of asymmetric deep hashing (ADSH, DADH): learned
binary codes B of the N training items, the latest outputs of each network
stream, and the labels/ids of the items, all indexed by ``sample_idx``, plus
the discrete step that updates B."""
from typing import Dict, Optional, Sequence

import torch
import torch.nn as nn
from mmengine.dist import all_gather, get_world_size

from ..losses import AsymmetricPairwiseLogisticLoss, similarity_affine
from ..utils import (LogisticCodeProblem, closed_form_update, dcc_update,
                     inner_product_code_objective, similar_pair_count)

CODE_UPDATES = ('dcc', 'closed_form')
CODE_INITS = ('zeros', 'random')


class TrainingCodeBank(nn.Module):
    """Learned codes B, stream output buffers, labels and ids of N items.

    Every tensor is a registered buffer, so it is saved in checkpoints and
    restored by ``--resume``/``load_from``; a freshly built bank has N = 0
    and takes N (and an unknown label width) from the checkpoint it loads.

    Buffers: ``codes`` (N, k) ±1, ``outputs_<s>`` (N, k) per stream s,
    ``train_labels`` (N, C) multi-hot, ``train_ids`` (N,) long (-1 where
    unknown). Row i belongs to ``sample_idx = i`` of the training dataset.

    Args:
        num_bits (int): k.
        streams (Sequence[str]): Stream names, one output buffer each.
        num_classes (int, optional): C; inferred from the labels if None.
        num_train (int): Initial N. Defaults to 0.
        init_seed (int): Seed of the random ±1 initial B (the same on every
            rank). Defaults to 0.
        init (str): Initial B: ``'zeros'`` (the third-party DADH code's
            ``np.zeros``; B is ±1 after the first B-step) or ``'random'``
            (seeded ±1, as ADSH's V). Defaults to 'zeros'.
    """

    def __init__(self,
                 num_bits: int,
                 streams: Sequence[str] = ('f', 'g'),
                 num_classes: Optional[int] = None,
                 num_train: int = 0,
                 init_seed: int = 0,
                 init: str = 'zeros'):
        super().__init__()
        if init not in CODE_INITS:
            raise ValueError(f'code init must be one of {CODE_INITS}, got '
                             f'{init!r}')
        self.num_bits = num_bits
        self.streams = tuple(streams)
        self.num_classes = num_classes
        self.init_seed = init_seed
        self.init = init
        self._similar_ratio = None  # cache, reset with the training set
        self.register_buffer('codes', torch.zeros(num_train, num_bits))
        for name in self.streams:
            self.register_buffer(f'outputs_{name}',
                                 torch.zeros(num_train, num_bits))
        self.register_buffer('train_labels',
                             torch.zeros(num_train, num_classes or 0))
        self.register_buffer('train_ids',
                             torch.full((num_train, ), -1, dtype=torch.long))

    @property
    def num_train(self) -> int:
        """N, the number of training items."""
        return self.codes.shape[0]

    def outputs(self, name: str) -> torch.Tensor:
        """Buffered outputs (N, k) of stream ``name``."""
        return getattr(self, f'outputs_{name}')

    def matches(self, labels: torch.Tensor,
                ids: Optional[torch.Tensor] = None) -> bool:
        """Whether the bank holds this training set."""
        labels = labels.to(self.train_labels)
        return (labels.shape == self.train_labels.shape
                and torch.equal(labels, self.train_labels)
                and (ids is None or torch.equal(
                    ids.to(self.train_ids), self.train_ids)))

    def attach(self,
               labels: torch.Tensor,
               ids: Optional[torch.Tensor] = None) -> bool:
        """Size the bank for N items and initialise it (unless it holds them).

        B starts as 0 or seeded random ±1 (``init``) and the output buffers
        as 0 (a zero row adds a constant to the pair losses, no gradient).

        Args:
            labels (torch.Tensor): (N, C) multi-hot labels, row = sample_idx.
            ids (torch.Tensor, optional): (N,) integer ids (e.g. pool_index);
                -1 where unknown.

        Returns:
            bool: True if (re)initialised, False if kept.
        """
        if labels.dim() != 2 or (self.num_classes is not None
                                 and labels.shape[1] != self.num_classes):
            raise ValueError(
                f'training labels must be (N, num_classes={self.num_classes})'
                f', got {tuple(labels.shape)}')
        if ids is None:
            ids = torch.full((labels.shape[0], ), -1, dtype=torch.long)
        if self.matches(labels, ids):
            return False
        n, k, device = labels.shape[0], self.num_bits, self.codes.device
        if self.init == 'random':
            generator = torch.Generator().manual_seed(self.init_seed)
            codes = torch.where(
                torch.rand(n, k, generator=generator) < 0.5, -1., 1.)
        else:
            codes = torch.zeros(n, k)
        self.codes = codes.to(device, self.codes.dtype)
        for name in self.streams:
            setattr(self, f'outputs_{name}', torch.zeros(n, k, device=device))
        self.train_labels = labels.to(device, torch.float32)
        self.train_ids = ids.to(device, torch.long)
        self._similar_ratio = None
        return True

    def similar_ratio(self) -> float:
        """r = #similar / #dissimilar over all N x N pairs (one global value
        keeps the network step and the B-step on the same objective)."""
        if self._similar_ratio is None:
            n = self.num_train
            similar = similar_pair_count(self.train_labels)
            self._similar_ratio = similar / max(n * n - similar, 1)
        return self._similar_ratio

    def indices_of(self, data_samples) -> torch.Tensor:
        """``sample_idx`` of the samples, checked against N."""
        if self.num_train == 0:
            raise RuntimeError(
                'no training set attached to the code bank: add '
                "dict(type='DADHCodeUpdateHook') to custom_hooks")
        indices = [s.metainfo.get('sample_idx') for s in data_samples]
        if any(i is None for i in indices):
            raise KeyError('asymmetric hashing needs sample_idx in every '
                           'training sample (keep it in PackHashInputs '
                           'meta_keys)')
        # Checked on the host (metainfo values), before the one copy to
        # the device: no read-back per step.
        bad = [int(i) for i in indices if not 0 <= int(i) < self.num_train]
        if bad:
            raise IndexError(
                f'sample_idx {max(bad)} is outside the '
                f'{self.num_train} attached training items: the training '
                'set changed after it was attached')
        return torch.as_tensor(indices, dtype=torch.long,
                               device=self.codes.device)

    def store(self, name: str, indices: torch.Tensor,
              values: torch.Tensor) -> None:
        """Write a batch's outputs into stream ``name``'s buffer.

        A batch with NaN/inf outputs is not stored (on any rank: the rows
        are gathered first), so the buffers, and B computed from them,
        never hold non-finite values; the loss of that batch is non-finite
        too, which NonFiniteLossHook stops on or skips.
        """
        # Every rank must hold the same buffers: gather the batch rows.
        if get_world_size() > 1:
            indices = torch.cat(all_gather(indices))
            values = torch.cat(all_gather(values.contiguous()))
        buffer = self.outputs(name)
        # A masked write instead of a branch: deciding on the host would
        # make every step wait for the device.
        finite = torch.isfinite(values).all()
        buffer[indices] = torch.where(finite, values.to(buffer),
                                      buffer[indices])

    def rows_of_ids(self, ids: torch.Tensor):
        """(found, row) of each id in ``train_ids`` (ids < 0 never match)."""
        order = torch.argsort(self.train_ids)
        sorted_ids = self.train_ids[order]
        pos = torch.searchsorted(sorted_ids, ids).clamp(max=len(order) - 1)
        return (ids >= 0) & (sorted_ids[pos] == ids), order[pos]

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # The bank is sized by the training set, which a freshly built model
        # does not know yet: take N (and an inferred label width) from the
        # checkpoint; a different k is left for torch to report.
        for name, current in self._buffers.items():
            key = prefix + name
            if current is None or key not in state_dict:
                continue
            shape = tuple(state_dict[key].shape)
            free_width = name == 'train_labels' and not self.num_classes
            keep = shape[1:] if free_width else tuple(current.shape[1:])
            if shape[1:] == keep and shape != tuple(current.shape):
                self._buffers[name] = current.new_zeros(shape)
        self._similar_ratio = None
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    @torch.no_grad()
    def update_codes(self,
                     code_loss: Optional[nn.Module],
                     gap_loss: Optional[nn.Module],
                     tanh_in_gap: bool = False,
                     method: str = 'dcc',
                     sweeps: int = 1,
                     block_size: int = 1024) -> Dict[str, float]:
        """B-step: minimise J over B with the stream outputs fixed.

        J's code term and weight μ come from ``code_loss`` (regression:
        exact DCC per bit; logistic: DCC on its quadratic majorizer at the
        current B, O(N^2 k)), γ from ``gap_loss``; see
        :mod:`hashplugins.models.utils.discrete_code_update`. Computed in
        float64 over tanh of the buffers (the gap on the buffers themselves
        unless ``tanh_in_gap``).

        Args:
            code_loss (nn.Module, optional): ``AsymmetricInnerProductLoss``
                or ``AsymmetricPairwiseLogisticLoss`` (None: no code term).
            gap_loss (nn.Module, optional): ``FeatureCodeGapLoss`` or None.
            tanh_in_gap (bool): The gap acts on tanh of the outputs.
            method (str): ``'dcc'`` or ``'closed_form'``.
            sweeps (int): DCC passes over the k bits.
            block_size (int): Label-pattern block size.

        Returns:
            dict: ``objective_before``, ``objective_after`` (J at the old
            and new B) and ``changed_bits`` (fraction of bits flipped).
        """
        if method not in CODE_UPDATES:
            raise ValueError(f'method must be one of {CODE_UPDATES}, got '
                             f'{method!r}')
        if self.num_train == 0:
            raise RuntimeError('update_codes: no training set attached')
        for name in self.streams:
            bad = ~torch.isfinite(self.outputs(name)).all(1)
            if bad.any():
                raise FloatingPointError(
                    f'update_codes: the outputs_{name} buffer has '
                    f'{int(bad.sum())} non-finite row(s) (e.g. sample_idx '
                    f'{bad.nonzero()[:5, 0].tolist()}); refusing to compute '
                    'B from them')
        raw = [self.outputs(name).double() for name in self.streams]
        soft = [torch.tanh(x) for x in raw]
        gap_inputs = soft if tanh_in_gap else raw
        weight = code_loss.loss_weight if code_loss is not None else 0.
        gamma = gap_loss.loss_weight if gap_loss is not None else 0.
        old = self.codes.double()
        if isinstance(code_loss, AsymmetricPairwiseLogisticLoss):
            problem = LogisticCodeProblem(soft, gap_inputs, self.train_labels,
                                          weight, gamma, code_loss.scale)
            objective, exact = problem.surrogate(old), problem.objective
        else:
            form = getattr(code_loss, 'similarity', 'signed')
            ratio = self.similar_ratio() if form == 'balanced' else None
            objective = exact = inner_product_code_objective(
                soft, gap_inputs, self.train_labels, weight, gamma,
                target_scale=getattr(code_loss, 'target_scale', None),
                affine=similarity_affine(form, ratio),
                block_size=block_size)
        before = objective(old)
        new = (dcc_update(old, objective, sweeps) if method == 'dcc' else
               closed_form_update(objective))
        # DCC keeps a bit whose field is 0: from a zero start that bit would
        # stay 0; B is ±1 after every B-step (sign(0) = +1).
        new = torch.where(new == 0, 1., new)
        after = exact(new)
        changed = float((new != old).double().mean())
        self.codes.copy_(new)
        return dict(
            objective_before=before,
            objective_after=after,
            changed_bits=changed)
