"""Transfer hashing: a labelled source half and an unlabelled target half."""
import inspect
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from ..utils import GradientReversal, select_rows
from .deep_hasher import DeepHasher

SOURCE, TARGET = 0, 1


def split_by_domain(data_samples: Sequence[DataSample]
                    ) -> Tuple[List[int], List[int]]:
    """Batch positions of source (``domain == 0``) and target (``== 1``)
    samples, from the ``domain`` metainfo every sample must carry."""
    source, target = [], []
    for i, sample in enumerate(data_samples):
        domain = sample.metainfo.get('domain')
        if isinstance(domain, torch.Tensor) and domain.numel() == 1:
            domain = domain.item()
        if domain not in (SOURCE, TARGET) or isinstance(domain, bool):
            raise ValueError(
                f'TransferHasher: sample {i} of the batch has domain='
                f'{domain!r}; every training sample needs the metainfo '
                "'domain' = 0 (labelled source) or 1 (unlabelled target). "
                "Train with a 'TransferPairDataset' (it tags both halves) "
                'and PackHashInputs, or give the datasets domain_id.')
        (source if domain == SOURCE else target).append(i)
    return source, target


@MODELS.register_module()
class TransferHasher(DeepHasher):
    """A :class:`DeepHasher` trained on a source + target batch.

    One forward pass over the whole batch (source then target, as TAH's
    Caffe net concatenates them) gives the codes ``z``. The batch is then
    split by each sample's ``domain`` tag:

    - the hash head's losses (TAH: t-distribution pairwise + quantization)
      see **only the source codes and source labels**;
    - every *transfer head* is called as
      ``head.loss(source_codes, target_codes, source_samples)`` and returns
      a dict of losses (and logged values). Target samples, and so target
      labels, are never handed to any head or loss.

    TAH is ``transfer_heads=dict(domain=dict(type='DomainDiscriminator',
    in_channels=b))``. A method that adds e.g. a classifier on the codes
    with a source cross-entropy and a target entropy term (METAH) adds one
    more entry; no subclass is needed. Heads holding a
    :class:`GradientReversal` get its coefficient from
    :meth:`set_grl_coeff`, which :class:`GradientReversalScheduleHook`
    calls every iteration.

    Prediction (``mode='predict'``) and ``mode='tensor'`` are those of
    :class:`DeepHasher`: domain tags are not needed there.

    Args:
        backbone (dict): Backbone config.
        head (dict): :class:`HashHead` config with the source losses.
        neck (dict, optional): Neck config.
        transfer_heads (dict, optional): ``{name: head_cfg}`` of heads on
            the source and target codes. A head whose constructor takes
            ``in_channels`` / ``num_classes`` and whose config leaves them
            out gets the hash head's ``num_bits`` / ``num_classes``.
            Defaults to none.
        data_preprocessor (dict, optional): Defaults to
            ``dict(type='ClsDataPreprocessor')``.
        init_cfg (dict, optional): Initialization config.
    """

    def __init__(self,
                 backbone: dict,
                 head: dict,
                 neck: Optional[dict] = None,
                 transfer_heads: Optional[Dict[str, dict]] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(
            backbone=backbone,
            head=head,
            neck=neck,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        self.transfer_heads = nn.ModuleDict()
        for name, cfg in (transfer_heads or {}).items():
            module = MODELS.build(cfg, default_args=self._head_defaults(cfg))
            if not callable(getattr(module, 'loss', None)):
                raise TypeError(
                    f'TransferHasher: transfer_heads.{name} '
                    f'({type(module).__name__}) has no loss(source_codes, '
                    'target_codes, source_samples) method')
            width = getattr(module, 'in_channels', self.num_bits)
            if width != self.num_bits:
                raise ValueError(
                    f'TransferHasher: transfer_heads.{name}.in_channels='
                    f'{width} but head.num_bits={self.num_bits}; the '
                    'transfer heads read the codes')
            classes = getattr(module, 'num_classes', None)
            head_classes = getattr(self.head, 'num_classes', None)
            if None not in (classes, head_classes) and \
                    classes != head_classes:
                raise ValueError(
                    f'TransferHasher: transfer_heads.{name}.num_classes='
                    f'{classes} but head.num_classes={head_classes}; both '
                    'read the same source labels')
            self.transfer_heads[name] = module

    def _head_defaults(self, cfg: dict) -> dict:
        """The hash head's code length and class count, for the arguments
        of a transfer head's constructor that exist (both are fixed by the
        hash head, so configs need not repeat them)."""
        head_type = cfg.get('type')
        cls = MODELS.get(head_type) if isinstance(head_type, str) \
            else head_type
        if cls is None:
            return {}  # MODELS.build names the unknown type
        params = inspect.signature(cls).parameters
        values = dict(in_channels=self.num_bits,
                      num_classes=getattr(self.head, 'num_classes', None))
        return {k: v for k, v in values.items()
                if k in params and v is not None}

    def grl_layers(self) -> List[GradientReversal]:
        """Every gradient reversal layer in the model."""
        return [m for m in self.modules() if isinstance(m, GradientReversal)]

    def set_grl_coeff(self, coeff: float) -> int:
        """Set the coefficient of every gradient reversal layer.

        Returns:
            int: How many layers were set.
        """
        layers = self.grl_layers()
        for layer in layers:
            layer.set_coeff(coeff)
        return len(layers)

    def loss(self, inputs: torch.Tensor,
             data_samples: List[DataSample]) -> dict:
        """Source losses of the hash head plus every transfer head's.

        Raises:
            ValueError: If a sample has no valid ``domain`` tag, the batch
                has no source sample, or transfer heads are configured but
                the batch has no target sample.
        """
        source, target = split_by_domain(data_samples)
        if not source:
            raise ValueError('TransferHasher: the batch holds no source '
                             '(domain 0) sample, so no labelled loss')
        if self.transfer_heads and not target:
            raise ValueError(
                'TransferHasher: transfer heads are configured but the batch '
                'holds no target (domain 1) sample; train with a '
                'TransferPairDataset')
        codes = self.head(self.extract_feat(inputs))
        source_codes = select_rows(codes, source)
        target_codes = select_rows(codes, target)
        source_samples = [data_samples[i] for i in source]
        losses = self.head.compute_losses(source_codes, source_samples)
        for name, head in self.transfer_heads.items():
            for key, value in head.loss(source_codes, target_codes,
                                        source_samples).items():
                if key in losses:
                    raise KeyError(
                        f'TransferHasher: transfer_heads.{name} returns '
                        f'{key!r}, which another head already returned; '
                        'give it a different loss_name')
                losses[key] = value
        return losses
