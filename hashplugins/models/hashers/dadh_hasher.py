"""Dual asymmetric deep hashing (DADH; Li, Zhang, Lu, Zhang, arXiv
1801.08360, IEEE Access 2019), reconstructed in spec/methods.md §6.

Only the abstract and a loose third-party adaptation were available, so
every uncertain choice is a constructor argument; configs/dadh/README.md
lists them with their evidence tags.
"""
from typing import Dict, List, Optional, Tuple

import torch
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapperDict
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from ..losses import AsymmetricInnerProductLoss, AsymmetricPairwiseLogisticLoss
from ..utils import label_similarity
from .dadh_code_bank import TrainingCodeBank

STREAMS = ('f', 'g')
ALTERNATIONS = ('epoch', 'iter', 'joint')
CODE_SOURCES = ('f', 'g', 'sum')
NORMALIZATIONS = ('objective', 'per_term')


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


def _sign(codes: torch.Tensor) -> torch.Tensor:
    # sign with sign(0) = +1, as HashHead.binarize for activation='identity'
    # (not called through the stream: under DDP it is a wrapper).
    return torch.where(codes >= 0, 1., -1.).to(codes.dtype)


def gradient_shares(losses: Dict[str, torch.Tensor], outputs: torch.Tensor,
                    stream: str) -> Dict[str, torch.Tensor]:
    """Each term's share of the summed per-term gradient norms on a
    stream's outputs, ``||dL_t/dF|| / sum_u ||dL_u/dF||``: which terms
    drive the update (a term with a tiny share is nearly inactive).

    Gradients only down to the outputs (not through the network); the
    graph is kept for the real backward.
    """
    terms = [t for t, v in losses.items() if v.requires_grad]
    grads = [
        torch.autograd.grad(losses[t], outputs, retain_graph=True,
                            allow_unused=True)[0] for t in terms
    ]
    norms = torch.stack([
        g.norm() if g is not None else outputs.new_zeros(()) for g in grads
    ]).detach()
    shares = norms / norms.sum().clamp_min(torch.finfo(norms.dtype).tiny)
    return {f'grad_share_{t}_{stream}': v for t, v in zip(terms, shares)}


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
    outputs F (stream f) and G (stream g); F̃ = tanh F. Its ``code_bank``
    (:class:`TrainingCodeBank`) keeps, as buffers saved in checkpoints and
    restored on ``--resume``, the learned codes B ∈ {±1}^{N×k} of the N
    training items, the latest outputs of each stream, the training labels
    and ids, all indexed by the dataset's ``sample_idx``.
    :class:`DADHCodeUpdateHook` attaches the training set, tells the model
    the epoch/iteration, and runs the B-step (:meth:`update_codes`).

    Training a stream s on a mini-batch I minimises the rows-I part of

    .. math::
        J = \tau\,\ell_{\log}(\tilde F, \tilde G)
          + \mu\,[\ell_{code}(\tilde F, B) + \ell_{code}(\tilde G, B)]
          + \gamma(\lVert F - B\rVert^2 + \lVert G - B\rVert^2)
          + \eta(\lVert F^\top \mathbf 1\rVert^2
          + \lVert G^\top \mathbf 1\rVert^2)

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
        tanh_in_gap (bool): Gap on tanh(F) (as the third-party DADH code
            and ADSH apply it) instead of the raw F. Defaults to True.
        loss_normalization (str): ``'objective'``: every term is the rows-I
            part of J divided by |I|·N (J's relative weights, ADSH's code);
            ``'per_term'``: pair terms mean over pairs, gap mean over rows,
            balance divided by N². Defaults to 'objective'.
        alternation (str): ``'joint'`` (both streams on every batch, f
            first, then g against f's outputs of this batch: every source
            trains both networks on every batch), ``'epoch'`` (f for
            ``alternation_period`` epochs, then g) or ``'iter'`` (the same
            per iteration). Defaults to 'joint'.
        alternation_period (int): Epochs/iterations per turn. Defaults to 1.
        column_sample (int, optional): Sample this many of the N columns per
            iteration for the pair terms (unbiased); None uses all N.
        query_code, database_code (str): Test-time code: ``'f'``, ``'g'``
            or ``'sum'`` (sign(F + G)). Default 'f' (the sources take codes
            from one network).
        learned_database_codes (bool): Database items that are training
            items (matched by ``id_key`` in their metainfo) take their row
            of B. Defaults to False.
        id_key (str): Integer id shared by the train and database samples.
            Defaults to 'pool_index' (add it to PackHashInputs' meta_keys).
        num_train (int): Initial N (resized when a training set is attached
            or a checkpoint loaded). Defaults to 0.
        code_init (str): Initial B, ``'random'`` (seeded ±1, ADSH) or
            ``'zeros'`` (third-party code). Defaults to 'random' (chosen on
            a validation split, configs/dadh/README.md).
        code_init_seed (int): Seed of the random ±1 initial B (the same on
            every rank). Defaults to 0.
        grad_share_interval (int): Every this many iterations, log each
            term's share of the gradient norm on the stream's outputs
            (``grad_share_<term>_<stream>``: how much of the update each
            term drives); 0 turns it off. Defaults to 0.
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
                     type='BitBalanceLoss', loss_weight=1.),
                 tanh_in_gap: bool = True,
                 loss_normalization: str = 'objective',
                 alternation: str = 'joint',
                 alternation_period: int = 1,
                 column_sample: Optional[int] = None,
                 query_code: str = 'f',
                 database_code: str = 'f',
                 learned_database_codes: bool = False,
                 id_key: str = 'pool_index',
                 num_train: int = 0,
                 code_init: str = 'random',
                 code_init_seed: int = 0,
                 grad_share_interval: int = 0,
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
        if grad_share_interval < 0:
            raise ValueError('grad_share_interval must be >= 0, got '
                             f'{grad_share_interval}')
        self.grad_share_interval = grad_share_interval
        self.epoch, self.iter = 0, 0
        self.code_bank = TrainingCodeBank(k, tuple(self.streams), num_classes,
                                          num_train, code_init_seed,
                                          code_init)

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
        """N, the number of training items B covers."""
        return self.code_bank.num_train

    def matches_training_set(self, labels: torch.Tensor,
                             ids: Optional[torch.Tensor] = None) -> bool:
        """Whether B and the buffers belong to this training set."""
        return self.code_bank.matches(labels, ids)

    def attach_training_set(self,
                            labels: torch.Tensor,
                            ids: Optional[torch.Tensor] = None) -> bool:
        """Size and initialise B and the buffers for this training set
        (kept if already held, e.g. after ``--resume``); see
        :meth:`TrainingCodeBank.attach`."""
        return self.code_bank.attach(labels, ids)

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

    # ------------------------------------------------------------------
    # Training
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
        bank = self.code_bank
        raw = self.streams[name](inputs, mode='tensor')
        soft = torch.tanh(raw)
        bank.store(name, indices, raw.detach())
        own = bank.outputs(name)
        other = own if self.stream_g is None else bank.outputs(
            'g' if name == 'f' else 'f')
        n, total = raw.shape[0], bank.num_train
        columns = slice(None)
        if self.column_sample is not None and self.column_sample < total:
            columns = torch.randperm(
                total, device=own.device)[:self.column_sample]
        objective = self.loss_normalization == 'objective'
        losses = {}
        if self.pair_loss is not None or self.code_loss is not None:
            sim = label_similarity(bank.train_labels[indices],
                                   bank.train_labels[columns])
        if self.pair_loss is not None:
            losses['pair'] = self.pair_loss(soft, torch.tanh(other[columns]),
                                            sim)
        if self.code_loss is not None:
            extra = ({} if getattr(self.code_loss, 'similarity', None) !=
                     'balanced' else dict(similar_ratio=bank.similar_ratio()))
            losses['code'] = self.code_loss(soft, bank.codes[columns], sim,
                                            **extra)
        if self.gap_loss is not None:
            losses['gap'] = self.gap_loss(
                soft if self.tanh_in_gap else raw,
                bank.codes[indices],
                avg_factor=n * total if objective else n)
        if self.balance_loss is not None:
            # The other N - n rows, from the buffer (already holding the
            # batch rows just stored).
            offset = own.sum(0) - own[indices].sum(0)
            losses['balance'] = self.balance_loss(
                raw, offset, avg_factor=n * total if objective else total**2)
        out = {f'loss_{term}_{name}': v for term, v in losses.items()}
        if self.grad_share_interval and \
                self.iter % self.grad_share_interval == 0:
            out.update(gradient_shares(losses, raw, name))
        return out

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
        indices = self.code_bank.indices_of(samples)
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

    def update_codes(self,
                     method: str = 'dcc',
                     sweeps: int = 1,
                     block_size: int = 1024) -> Dict[str, float]:
        """B-step with this model's code and gap terms; see
        :meth:`TrainingCodeBank.update_codes`.

        Returns:
            dict: ``objective_before``, ``objective_after``,
            ``changed_bits``.
        """
        return self.code_bank.update_codes(self.code_loss, self.gap_loss,
                                           self.tanh_in_gap, method, sweeps,
                                           block_size)

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
            indices = self.code_bank.indices_of(data_samples)
            losses = {}
            for name in self.streams:
                losses.update(self.stream_losses(name, inputs, indices))
            return losses
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        raise RuntimeError(f'Invalid mode "{mode}".')

    def _learned_rows(self, data_samples, db_flags, is_db):
        """Row of B for each database sample that is a training item."""
        ids = []
        for sample, db in zip(data_samples, db_flags):
            value = sample.metainfo.get(self.id_key) if db else -1
            if value is None:
                raise KeyError(
                    f'learned_database_codes needs "{self.id_key}" in the '
                    'metainfo of database samples: add it to PackHashInputs('
                    'meta_keys=...) of the test pipeline')
            ids.append(int(value))
        found, rows = self.code_bank.rows_of_ids(
            torch.as_tensor(ids, device=is_db.device))
        return found & is_db, rows

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
        codes = _sign(self._continuous(outputs, self.query_code))
        if data_samples is None:
            data_samples = [DataSample() for _ in range(codes.shape[0])]
        # The split is metainfo: decided on the host, no device read-back.
        db_flags = [s.metainfo.get('split') == 'database'
                    for s in data_samples]
        if any(db_flags):
            is_db = torch.tensor(db_flags, device=codes.device)
            db_codes = _sign(self._continuous(outputs, self.database_code))
            codes = torch.where(is_db[:, None], db_codes, codes)
            if self.learned_database_codes and self.num_train:
                found, rows = self._learned_rows(data_samples, db_flags,
                                                 is_db)
                learned = self.code_bank.codes[rows].to(codes)
                codes = torch.where(found[:, None], learned, codes)
        for sample, code in zip(data_samples, codes.detach()):
            sample.set_field(code, 'hash_code', field_type='data')
        return data_samples
