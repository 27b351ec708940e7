"""Dual asymmetric deep hashing (DADH; Li, Zhang, Lu, Zhang, arXiv
1801.08360, IEEE Access 2019), reconstructed in spec/methods.md §6.

Only the abstract and a loose third-party adaptation were available, so
every uncertain choice is a constructor argument; configs/dadh/README.md
lists them with their evidence tags.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.dist import all_gather, get_world_size
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapper, OptimWrapperDict
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from ..losses import (AsymmetricInnerProductLoss,
                      AsymmetricPairwiseLogisticLoss, similarity_affine)
from ..utils import (LogisticCodeProblem, closed_form_update, dcc_update,
                     inner_product_code_objective, label_similarity,
                     similar_pair_count)

STREAMS = ('f', 'g')
ALTERNATIONS = ('epoch', 'iter', 'joint')
CODE_SOURCES = ('f', 'g', 'sum')
NORMALIZATIONS = ('objective', 'per_term')
CODE_UPDATES = ('dcc', 'closed_form')
# Buffers whose first dimension is the training-set size N.
TRAINING_SET_BUFFERS = ('codes', 'outputs_f', 'outputs_g', 'train_labels',
                        'train_ids')


def _build_stream(cfg: dict, name: str):
    cfg = dict(cfg)
    cfg.setdefault('type', 'DeepHasher')
    stream = MODELS.build(cfg)
    head = getattr(stream, 'head', None)
    if getattr(head, 'activation', None) != 'identity':
        raise ValueError(
            f'{name}.head must be a HashHead with activation="identity": DADH '
            'takes the pre-activation outputs F and applies tanh itself '
            f'(got {getattr(head, "activation", None)!r})')
    if len(getattr(head, 'losses', ())):
        raise ValueError(f'{name}.head.losses must be empty: DADH\'s losses '
                         'are arguments of DualAsymmetricHasher')
    return stream


def _choice(value, allowed, key):
    if value not in allowed:
        raise ValueError(f'DualAsymmetricHasher: {key} must be one of '
                         f'{allowed}, got {value!r}')
    return value


@MODELS.register_module()
class DualAsymmetricHasher(BaseModel):
    r"""Two asymmetric streams, learned training codes B, and their losses.

    Each stream is a :class:`DeepHasher` (any mmpretrain backbone + neck +
    a ``HashHead`` with ``activation='identity'``) giving pre-activation
    outputs F (stream f) and G (stream g); F̃ = tanh F. The model keeps, as
    buffers saved in checkpoints and restored on ``--resume``, the learned
    codes ``codes`` = B ∈ {±1}^{N×k} of the N training items, the latest
    outputs ``outputs_f``/``outputs_g`` (N, k), the training labels
    ``train_labels`` (N, C) and ids ``train_ids`` (N,), all indexed by the
    dataset's ``sample_idx``. :class:`DADHCodeUpdateHook` attaches the
    training set, tells the model the epoch/iteration, and runs the B-step.

    Training a stream s on a mini-batch I minimises the rows-I part of

    .. math::
        J = \tau\,\ell_{\log}(\tilde S_f, \tilde S_{\bar s})
          + \mu\,\ell_{code}(\tilde S_f, B) + \gamma\lVert X_s - B\rVert^2
          + \eta\lVert S_s \mathbf 1\rVert^2

    (spec §6.3): ``pair_loss`` between the stream and the *other* stream's
    buffered outputs over all N columns (the stream's own buffer when there
    is a single stream: the single-stream ablation), ``code_loss`` between
    the stream and B over all N columns, ``gap_loss`` against B of the
    batch items, ``balance_loss`` on the sum over all N rows (buffer +
    batch). Similarities come from labels, batch x N, never N x N.

    Args:
        stream_f (dict): Config of stream f (``type`` defaults to
            ``'DeepHasher'``).
        stream_g (dict, optional): Config of stream g (its backbone may
            differ). None gives the single-stream ablation.
        num_classes (int, optional): Label width; inferred if None.
        pair_loss, code_loss, gap_loss, balance_loss (dict, optional):
            Loss configs; None drops the term. ``code_loss`` is
            ``AsymmetricInnerProductLoss`` (regression) or
            ``AsymmetricPairwiseLogisticLoss`` (logistic form).
        tanh_in_gap (bool): Gap on tanh(F) instead of F. Defaults to False.
        loss_normalization (str): ``'objective'``: every term is the rows-I
            part of J divided by |I|·N (J's relative weights, ADSH's code);
            ``'per_term'``: pair terms mean over pairs, gap mean over rows,
            balance divided by N². Defaults to 'objective'.
        alternation (str): ``'epoch'`` (f for ``alternation_period``
            epochs, then g), ``'iter'`` (same per iteration) or ``'joint'``
            (both every iteration). Defaults to 'epoch'.
        alternation_period (int): Epochs/iterations per turn. Defaults to 1.
        column_sample (int, optional): Sample this many of the N columns per
            iteration for the pair terms (unbiased); None uses all N.
        query_code, database_code (str): Test-time code: ``'f'``, ``'g'``
            or ``'sum'`` (sign(F + G)). Default 'sum'.
        learned_database_codes (bool): Database items that are training
            items (matched by ``id_key`` in their metainfo) take their row
            of B. Defaults to False.
        id_key (str): Integer id shared by the train and database samples.
            Defaults to 'pool_index' (add it to PackHashInputs' meta_keys).
        num_train (int): Initial N (resized when a training set is attached
            or a checkpoint loaded). Defaults to 0.
        code_init_seed (int): Seed of the random ±1 initial B (the same on
            every rank). Defaults to 0.
        data_preprocessor (dict, optional): Defaults to ClsDataPreprocessor.
        init_cfg (dict, optional): Initialization config.
    """

    def __init__(self,
                 stream_f: dict,
                 stream_g: Optional[dict] = None,
                 num_classes: Optional[int] = None,
                 pair_loss: Optional[dict] = dict(
                     type='AsymmetricPairwiseLogisticLoss',
                     scale=0.5,
                     loss_weight=10.),
                 code_loss: Optional[dict] = dict(
                     type='AsymmetricInnerProductLoss', loss_weight=1.),
                 gap_loss: Optional[dict] = dict(
                     type='FeatureCodeGapLoss', loss_weight=100.),
                 balance_loss: Optional[dict] = dict(
                     type='BitBalanceLoss', loss_weight=10.),
                 tanh_in_gap: bool = False,
                 loss_normalization: str = 'objective',
                 alternation: str = 'epoch',
                 alternation_period: int = 1,
                 column_sample: Optional[int] = None,
                 query_code: str = 'sum',
                 database_code: str = 'sum',
                 learned_database_codes: bool = False,
                 id_key: str = 'pool_index',
                 num_train: int = 0,
                 code_init_seed: int = 0,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        data_preprocessor = dict(data_preprocessor or {})
        data_preprocessor.setdefault('type', 'ClsDataPreprocessor')
        super().__init__(
            data_preprocessor=MODELS.build(data_preprocessor),
            init_cfg=init_cfg)
        self.stream_f = _build_stream(stream_f, 'stream_f')
        self.stream_g = (None if stream_g is None else
                         _build_stream(stream_g, 'stream_g'))
        k = self.stream_f.num_bits
        if self.stream_g is not None and self.stream_g.num_bits != k:
            raise ValueError(
                f'stream_f has {k} bits but stream_g has '
                f'{self.stream_g.num_bits}: set the same head.num_bits')
        for name, cfg in (('pair_loss', pair_loss), ('code_loss', code_loss),
                          ('gap_loss', gap_loss),
                          ('balance_loss', balance_loss)):
            setattr(self, name, None if cfg is None else MODELS.build(cfg))
        if not isinstance(self.code_loss,
                          (type(None), AsymmetricInnerProductLoss,
                           AsymmetricPairwiseLogisticLoss)):
            raise TypeError(
                'code_loss must be AsymmetricInnerProductLoss or '
                'AsymmetricPairwiseLogisticLoss (the B-step needs its form), '
                f'got {type(self.code_loss).__name__}')
        self.num_classes = num_classes
        self.tanh_in_gap = tanh_in_gap
        self.loss_normalization = _choice(loss_normalization, NORMALIZATIONS,
                                          'loss_normalization')
        self.alternation = _choice(alternation, ALTERNATIONS, 'alternation')
        if alternation_period < 1:
            raise ValueError('alternation_period must be >= 1, got '
                             f'{alternation_period}')
        self.alternation_period = alternation_period
        if column_sample is not None and column_sample < 1:
            raise ValueError(f'column_sample must be None or >= 1, got '
                             f'{column_sample}')
        self.column_sample = column_sample
        sources = CODE_SOURCES if self.stream_g is not None else ('f', 'sum')
        self.query_code = _choice(query_code, sources, 'query_code')
        self.database_code = _choice(database_code, sources, 'database_code')
        self.learned_database_codes = learned_database_codes
        self.id_key = id_key
        self.code_init_seed = code_init_seed
        self.epoch, self.iter = 0, 0
        self._similar_ratio = None  # cache, reset with the training set
        width = num_classes or 0
        self.register_buffer('codes', torch.zeros(num_train, k))
        for name in self.streams:
            self.register_buffer(f'outputs_{name}', torch.zeros(num_train, k))
        self.register_buffer('train_labels', torch.zeros(num_train, width))
        self.register_buffer('train_ids',
                             torch.full((num_train, ), -1, dtype=torch.long))

    # ------------------------------------------------------------------
    # Structure and state
    @property
    def streams(self) -> Dict[str, torch.nn.Module]:
        """``{'f': stream_f, 'g': stream_g}`` (only f when single-stream)."""
        return {
            name: getattr(self, f'stream_{name}')
            for name in STREAMS if getattr(self, f'stream_{name}') is not None
        }

    @property
    def num_bits(self) -> int:
        return self.stream_f.num_bits

    @property
    def num_train(self) -> int:
        """N, the number of training items B and the buffers cover."""
        return self.codes.shape[0]

    def outputs(self, name: str) -> torch.Tensor:
        """Buffered pre-activation outputs (N, k) of stream ``name``."""
        return getattr(self, f'outputs_{name}')

    def matches_training_set(self, labels: torch.Tensor,
                             ids: Optional[torch.Tensor] = None) -> bool:
        """Whether B and the buffers belong to this training set."""
        labels = labels.to(self.train_labels)
        return (labels.shape == self.train_labels.shape
                and torch.equal(labels, self.train_labels)
                and (ids is None or torch.equal(
                    ids.to(self.train_ids), self.train_ids)))

    def attach_training_set(self,
                            labels: torch.Tensor,
                            ids: Optional[torch.Tensor] = None) -> bool:
        """Size B and the buffers for N training items and initialise them.

        B starts as seeded random ±1 (as ADSH's V) and the output buffers as
        0 (a zero row adds a constant to the pair losses, no gradient).
        Nothing changes if the model already holds this training set (e.g.
        after ``--resume``).

        Args:
            labels (torch.Tensor): (N, C) multi-hot labels, row = sample_idx.
            ids (torch.Tensor, optional): (N,) integer ids (e.g. pool_index)
                for ``learned_database_codes``; -1 where unknown.

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
        if self.matches_training_set(labels, ids):
            return False
        n, k, device = labels.shape[0], self.num_bits, self.codes.device
        generator = torch.Generator().manual_seed(self.code_init_seed)
        codes = torch.where(
            torch.rand(n, k, generator=generator) < 0.5, -1., 1.)
        self.codes = codes.to(device, self.codes.dtype)
        for name in self.streams:
            setattr(self, f'outputs_{name}',
                    torch.zeros(n, k, device=device))
        self.train_labels = labels.to(device, torch.float32)
        self.train_ids = ids.to(device, torch.long)
        self._similar_ratio = None
        return True

    def similar_ratio(self) -> float:
        """r = #similar / #dissimilar over all N x N training pairs (for
        the 'balanced' similarity; one global value keeps the network step
        and the B-step on the same objective)."""
        if self._similar_ratio is None:
            n = self.num_train
            similar = similar_pair_count(self.train_labels)
            self._similar_ratio = similar / max(n * n - similar, 1)
        return self._similar_ratio

    def set_train_progress(self, epoch: int, iteration: int) -> None:
        """Tell the model where training is (drives the alternation)."""
        self.epoch, self.iter = int(epoch), int(iteration)

    def active_streams(self) -> Tuple[str, ...]:
        """Streams updated at the current epoch/iteration."""
        if self.stream_g is None:
            return ('f', )
        if self.alternation == 'joint':
            return STREAMS
        step = self.epoch if self.alternation == 'epoch' else self.iter
        return (STREAMS[(step // self.alternation_period) % 2], )

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # B and the buffers are sized by the training set, which a freshly
        # built model does not know yet: take N (and an inferred label
        # width) from the checkpoint, so load_from/--resume/test restore them.
        for name in TRAINING_SET_BUFFERS:
            key, current = prefix + name, self._buffers.get(name)
            if current is None or key not in state_dict:
                continue
            shape = tuple(state_dict[key].shape)
            keep = current.shape[1:] if (
                name != 'train_labels' or self.num_classes) else shape[1:]
            if shape[1:] == tuple(keep) and shape != tuple(current.shape):
                self._buffers[name] = current.new_zeros(shape)
        self._similar_ratio = None
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # ------------------------------------------------------------------
    # Training
    def _sample_indices(self, data_samples: Sequence[DataSample]):
        if self.num_train == 0:
            raise RuntimeError(
                'DualAsymmetricHasher has no training set attached: add '
                "dict(type='DADHCodeUpdateHook') to custom_hooks")
        indices = [s.metainfo.get('sample_idx') for s in data_samples]
        if any(i is None for i in indices):
            raise KeyError('DADH needs sample_idx in every training sample '
                           '(keep it in PackHashInputs meta_keys)')
        indices = torch.as_tensor(indices, dtype=torch.long,
                                  device=self.codes.device)
        if int(indices.max()) >= self.num_train or int(indices.min()) < 0:
            raise IndexError(
                f'sample_idx {int(indices.max())} is outside the '
                f'{self.num_train} attached training items: the training '
                'set changed after it was attached')
        return indices

    def _store_outputs(self, name: str, indices, values) -> None:
        # Every rank must hold the same buffers: gather the batch rows.
        if get_world_size() > 1:
            indices = torch.cat(all_gather(indices))
            values = torch.cat(all_gather(values.contiguous()))
        self.outputs(name)[indices] = values.to(self.outputs(name))

    def stream_losses(self, name: str, inputs: torch.Tensor,
                      indices: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Losses of stream ``name`` on a batch; updates its output buffer.

        Args:
            name (str): 'f' or 'g'.
            inputs (torch.Tensor): Preprocessed images of the batch.
            indices (torch.Tensor): (n,) sample_idx of the batch items.

        Returns:
            dict: ``loss_<term>_<name>`` -> scalar.
        """
        raw = self.streams[name](inputs, mode='tensor')
        soft = torch.tanh(raw)
        self._store_outputs(name, indices, raw.detach())
        own = self.outputs(name)
        other = own if self.stream_g is None else self.outputs(
            'g' if name == 'f' else 'f')
        n, total = raw.shape[0], self.num_train
        columns = slice(None)
        if self.column_sample is not None and self.column_sample < total:
            columns = torch.randperm(
                total, device=own.device)[:self.column_sample]
        objective = self.loss_normalization == 'objective'
        losses = {}
        if self.pair_loss is not None or self.code_loss is not None:
            sim = label_similarity(self.train_labels[indices],
                                   self.train_labels[columns])
        if self.pair_loss is not None:
            losses['pair'] = self.pair_loss(soft, torch.tanh(other[columns]),
                                            sim)
        if self.code_loss is not None:
            extra = ({} if self._code_form() != 'balanced' else dict(
                similar_ratio=self.similar_ratio()))
            losses['code'] = self.code_loss(soft, self.codes[columns], sim,
                                            **extra)
        if self.gap_loss is not None:
            losses['gap'] = self.gap_loss(
                soft if self.tanh_in_gap else raw,
                self.codes[indices],
                avg_factor=n * total if objective else n)
        if self.balance_loss is not None:
            # The other N - n rows, from the buffer (already holding the
            # batch rows just stored).
            offset = own.sum(0) - own[indices].sum(0)
            losses['balance'] = self.balance_loss(
                raw, offset, avg_factor=n * total if objective else total**2)
        return {f'loss_{term}_{name}': v for term, v in losses.items()}

    def _optimizer_groups(self, optim_wrapper):
        """(wrapper, module, streams) triples to update this iteration."""
        active = self.active_streams()
        if isinstance(optim_wrapper, OptimWrapperDict):
            groups = []
            for name in active:
                key = f'stream_{name}'
                if key not in optim_wrapper:
                    raise KeyError(
                        f'optim_wrapper has no "{key}" entry (has '
                        f'{list(optim_wrapper.keys())}); configure one per '
                        'stream with MultiOptimWrapperConstructor')
                groups.append((optim_wrapper[key], self.streams[name],
                               (name, )))
            return groups
        if len(self.streams) > 1 and self.alternation != 'joint':
            raise ValueError(
                f'alternation={self.alternation!r} needs one optimizer per '
                'stream (a single optimizer would still move the idle stream '
                "through momentum and weight decay): use optim_wrapper=dict("
                "constructor='MultiOptimWrapperConstructor', stream_f=..., "
                'stream_g=...)')
        return [(optim_wrapper, self, active)]

    def train_step(self, data, optim_wrapper) -> Dict[str, torch.Tensor]:
        """Update the active stream(s), each with its own optimizer.

        As mmagic's GANs: ``with wrapper.optim_context(module)``, compute the
        losses, ``parse_losses``, ``update_params``. B is not changed here
        (see :meth:`update_codes`).
        """
        data = self.data_preprocessor(data, True)
        inputs, samples = data['inputs'], data['data_samples']
        indices = self._sample_indices(samples)
        log_vars, total = {}, 0.
        for wrapper, module, names in self._optimizer_groups(optim_wrapper):
            with wrapper.optim_context(module):
                losses = {}
                for name in names:
                    losses.update(self.stream_losses(name, inputs, indices))
            parsed, logs = self.parse_losses(losses)
            wrapper.update_params(parsed)
            total = total + logs.pop('loss')
            log_vars.update(logs)
        log_vars['loss'] = total
        return log_vars

    # ------------------------------------------------------------------
    # Discrete step
    def _code_form(self) -> str:
        """Similarity form of the regression code loss ('signed' if none)."""
        return getattr(self.code_loss, 'similarity', 'signed')

    def code_objective_terms(self):
        """(tanh outputs, gap inputs, μ, γ) of every stream, in float64."""
        raw = [self.outputs(name).double() for name in self.streams]
        soft = [torch.tanh(x) for x in raw]
        weight = (self.code_loss.loss_weight
                  if self.code_loss is not None else 0.)
        gamma = self.gap_loss.loss_weight if self.gap_loss is not None else 0.
        return soft, soft if self.tanh_in_gap else raw, weight, gamma

    @torch.no_grad()
    def update_codes(self,
                     method: str = 'dcc',
                     sweeps: int = 1,
                     block_size: int = 1024) -> Dict[str, float]:
        """B-step: minimise J over B with the networks (buffers) fixed.

        See :mod:`hashplugins.models.utils.discrete_code_update` for J, DCC
        and the closed form. The regression form is optimised exactly per
        bit; the logistic form through its quadratic majorizer at the
        current B (O(N^2 k)). Computed in float64.

        Args:
            method (str): ``'dcc'`` or ``'closed_form'``.
            sweeps (int): DCC passes over the k bits.
            block_size (int): Label-pattern block size.

        Returns:
            dict: ``objective_before``, ``objective_after`` (J at the old
            and new B) and ``changed_bits`` (fraction of bits flipped).
        """
        _choice(method, CODE_UPDATES, 'method')
        if self.num_train == 0:
            raise RuntimeError('update_codes: no training set attached')
        soft, gap_inputs, weight, gamma = self.code_objective_terms()
        old = self.codes.double()
        labels = self.train_labels
        if isinstance(self.code_loss, AsymmetricPairwiseLogisticLoss):
            problem = LogisticCodeProblem(soft, gap_inputs, labels, weight,
                                          gamma, self.code_loss.scale)
            objective, exact = problem.surrogate(old), problem.objective
        else:
            form = self._code_form()
            objective = inner_product_code_objective(
                soft, gap_inputs, labels, weight, gamma,
                target_scale=getattr(self.code_loss, 'target_scale', None),
                affine=similarity_affine(
                    form, self.similar_ratio() if form == 'balanced' else None),
                block_size=block_size)
            exact = objective
        before = objective(old)
        new = (dcc_update(old, objective, sweeps) if method == 'dcc' else
               closed_form_update(objective))
        after = exact(new)
        changed = float((new != old).double().mean())
        self.codes.copy_(new)
        return dict(
            objective_before=before,
            objective_after=after,
            changed_bits=changed)

    # ------------------------------------------------------------------
    # Inference
    def _continuous(self, outputs: Dict[str, torch.Tensor], source: str):
        return sum(outputs.values()) if source == 'sum' else outputs[source]

    def _network_outputs(self, inputs, sources) -> Dict[str, torch.Tensor]:
        names = set()
        for source in sources:
            names.update(self.streams if source == 'sum' else (source, ))
        return {name: self.streams[name](inputs, mode='tensor')
                for name in sorted(names)}

    def forward(self,
                inputs: torch.Tensor,
                data_samples: Optional[List[DataSample]] = None,
                mode: str = 'tensor'):
        """``'tensor'``: continuous query codes; ``'loss'``: losses of all
        streams (buffers updated); ``'predict'``: samples with hash_code."""
        if mode == 'tensor':
            outputs = self._network_outputs(inputs, (self.query_code, ))
            return self._continuous(outputs, self.query_code)
        if mode == 'loss':
            indices = self._sample_indices(data_samples)
            losses = {}
            for name in self.streams:
                losses.update(self.stream_losses(name, inputs, indices))
            return losses
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        raise RuntimeError(f'Invalid mode "{mode}".')

    def _learned_rows(self, data_samples, is_db):
        """Row of B for each database sample that is a training item."""
        ids = []
        for sample, db in zip(data_samples, is_db.tolist()):
            value = sample.metainfo.get(self.id_key) if db else -1
            if value is None:
                raise KeyError(
                    f'learned_database_codes needs "{self.id_key}" in the '
                    'metainfo of database samples: add it to PackHashInputs('
                    'meta_keys=...) of the test pipeline')
            ids.append(int(value))
        ids = torch.as_tensor(ids, device=self.codes.device)
        order = torch.argsort(self.train_ids)
        sorted_ids = self.train_ids[order]
        pos = torch.searchsorted(sorted_ids, ids).clamp(max=len(order) - 1)
        found = is_db & (ids >= 0) & (sorted_ids[pos] == ids)
        return found, order[pos]

    def predict(self,
                inputs: torch.Tensor,
                data_samples: Optional[List[DataSample]] = None
                ) -> List[DataSample]:
        """Binary codes in ``data_sample.hash_code`` ((k,) float ±1).

        Queries use ``query_code``, samples whose ``split`` metainfo is
        ``'database'`` use ``database_code`` (or their row of B with
        ``learned_database_codes``); sign(0) = +1.
        """
        outputs = self._network_outputs(
            inputs, (self.query_code, self.database_code))
        binarize = self.stream_f.head.binarize
        codes = binarize(self._continuous(outputs, self.query_code))
        if data_samples is None:
            data_samples = [DataSample() for _ in range(codes.shape[0])]
        is_db = torch.tensor(
            [s.metainfo.get('split') == 'database' for s in data_samples],
            device=codes.device)
        if is_db.any():
            db_codes = binarize(self._continuous(outputs,
                                                 self.database_code))
            codes = torch.where(is_db[:, None], db_codes, codes)
            if self.learned_database_codes and self.num_train:
                found, rows = self._learned_rows(data_samples, is_db)
                codes = torch.where(found[:, None], self.codes[rows].to(codes),
                                    codes)
        for sample, code in zip(data_samples, codes.detach()):
            sample.set_field(code, 'hash_code', field_type='data')
        return data_samples
