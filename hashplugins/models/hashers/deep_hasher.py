"""The base deep hashing model: backbone (+ neck) + hash head."""
from typing import List, Optional

import torch
from mmengine.model import BaseModel
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample


@MODELS.register_module()
class DeepHasher(BaseModel):
    """A deep hashing network built like mmpretrain's ``ImageClassifier``.

    Any mmpretrain backbone (with its model-zoo checkpoint via ``init_cfg``)
    and neck feed a :class:`HashHead`; the head's configured losses make the
    training objective, and ``predict`` writes binary codes into the data
    samples for :class:`HammingRetrievalMetric`.

    Args:
        backbone (dict): Backbone config, e.g. ``dict(type='ResNet',
            depth=50, init_cfg=dict(type='Pretrained', checkpoint=URL,
            prefix='backbone'))``.
        head (dict): Hash head config.
        neck (dict, optional): Neck config, e.g. GlobalAveragePooling.
        data_preprocessor (dict, optional): Defaults to
            ``dict(type='ClsDataPreprocessor')``.
        init_cfg (dict, optional): Initialization config.

    Examples:
        >>> model = MODELS.build(dict(
        ...     type='DeepHasher',
        ...     backbone=dict(type='ResNet', depth=18),
        ...     neck=dict(type='GlobalAveragePooling'),
        ...     head=dict(type='HashHead', in_channels=512, num_bits=48,
        ...               losses=dict(pairwise=dict(
        ...                   type='PairwiseLogisticLoss')))))
    """

    def __init__(self,
                 backbone: dict,
                 head: dict,
                 neck: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        data_preprocessor = dict(data_preprocessor or {})
        data_preprocessor.setdefault('type', 'ClsDataPreprocessor')
        # Build from mmpretrain's registry: mmengine's root registry (used by
        # BaseModel) does not know mmpretrain's preprocessors outside a Runner.
        data_preprocessor = MODELS.build(data_preprocessor)
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.neck = MODELS.build(neck) if neck is not None else None
        self.head = MODELS.build(head)

    @property
    def num_bits(self) -> int:
        return self.head.num_bits

    def extract_feat(self, inputs: torch.Tensor):
        """Backbone (and neck) features."""
        feats = self.backbone(inputs)
        if self.neck is not None:
            feats = self.neck(feats)
        return feats

    def forward(self,
                inputs: torch.Tensor,
                data_samples: Optional[List[DataSample]] = None,
                mode: str = 'tensor'):
        """``'tensor'``: continuous codes; ``'loss'``: dict of losses;
        ``'predict'``: data samples carrying ``hash_code``."""
        if mode == 'tensor':
            return self.head(self.extract_feat(inputs))
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        raise RuntimeError(f'Invalid mode "{mode}".')

    def loss(self, inputs: torch.Tensor,
             data_samples: List[DataSample]) -> dict:
        return self.head.loss(self.extract_feat(inputs), data_samples)

    def predict(self,
                inputs: torch.Tensor,
                data_samples: Optional[List[DataSample]] = None
                ) -> List[DataSample]:
        return self.head.predict(self.extract_feat(inputs), data_samples)
