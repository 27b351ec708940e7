"""A shared CNN with adversary, hash and classification streams."""
from typing import List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample


@MODELS.register_module()
class ThreeStreamHashNet(BaseModule):
    """DSH-GANs' hashing CNN (spec §4.1 [A]): one mmpretrain backbone (and
    neck) feeding three streams on the same feature ``φ(x)``:

    - adversary: ``a(x) = w_a·φ(x) + c_a``, the logit of "x is real"
      (its sigmoid is the probability);
    - hash: a :class:`HashHead` (sigmoid in DSH-GANs: codes thresholded
      at 0.5, spec §4.1 [S]);
    - classification: ``W_c φ(x) + c_c`` class logits (softmax or sigmoid
      is the loss's business).

    ``forward(inputs)`` returns ``(codes, adv_logits (N,), cls_logits (N,
    K))``; ``forward(inputs, mode='codes')`` the binary ±1 codes of the
    hash head. Both go through ``forward`` so that a DDP-wrapped net
    (``MMSeparateDistributedDataParallel``) works unchanged.

    Args:
        backbone (dict): Backbone config (any mmpretrain backbone).
        head (dict): :class:`HashHead` config; its ``in_channels`` is the
            feature width, also used by the other two streams.
        num_classes (int): Width of the classification stream.
        neck (dict, optional): Neck config, e.g. GlobalAveragePooling.
        input_size (int, optional): Resize inputs (bilinear) to this size
            first, e.g. 224 for an ImageNet backbone fed 32 px real and
            generated images alike. Defaults to None (as given).
        init_cfg (dict, optional): Initialization config.
    """

    def __init__(self,
                 backbone: dict,
                 head: dict,
                 num_classes: int,
                 neck: Optional[dict] = None,
                 input_size: Optional[int] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.neck = MODELS.build(neck) if neck is not None else None
        self.head = MODELS.build(head)
        width = self.head.in_channels
        self.num_classes = num_classes
        self.input_size = input_size
        self.adversary = nn.Linear(width, 1)
        self.classifier = nn.Linear(width, num_classes)

    def features(self, inputs: torch.Tensor) -> torch.Tensor:
        """Flat (N, C) features ``φ(x)`` (resized first if configured)."""
        if self.input_size is not None and inputs.shape[-1] != (
                self.input_size):
            inputs = F.interpolate(inputs, size=self.input_size,
                                   mode='bilinear', align_corners=False)
        feats = self.backbone(inputs)
        if self.neck is not None:
            feats = self.neck(feats)
        if isinstance(feats, (tuple, list)):
            feats = feats[-1]
        return feats.flatten(1)

    def forward(self, inputs: torch.Tensor, mode: str = 'streams'
                ) -> Tuple[torch.Tensor, ...]:
        """``'streams'``: ``(codes, adv_logits, cls_logits)``; ``'codes'``:
        binary ±1 codes (N, B)."""
        feats = self.features(inputs)
        codes = self.head(feats)
        if mode == 'codes':
            return self.head.binarize(codes)
        if mode != 'streams':
            raise ValueError(f"ThreeStreamHashNet: mode must be 'streams' "
                             f"or 'codes', got {mode!r}")
        return (codes, self.adversary(feats).squeeze(1),
                self.classifier(feats))


def predict_hash_codes(hasher: nn.Module, inputs: torch.Tensor,
                       data_samples: Optional[List[DataSample]] = None
                       ) -> List[DataSample]:
    """Data samples carrying ``hash_code``: ``hasher``'s binary ±1 codes
    (``mode='codes'``; ``hasher`` may be DDP-wrapped).

    Args:
        hasher (nn.Module): A :class:`ThreeStreamHashNet`.
        inputs (torch.Tensor): (N, C, H, W) images.
        data_samples (list[DataSample], optional): Filled in place; new
            ones if None.

    Returns:
        list[DataSample]: The samples.
    """
    codes = hasher(inputs, mode='codes').detach()
    if data_samples is None:
        data_samples = [DataSample() for _ in range(len(codes))]
    for sample, code in zip(data_samples, codes):
        sample.set_field(code, 'hash_code', field_type='data')
    return data_samples
