"""DSH-GANs' hashing CNN trained on real triplets only (its ablation)."""
from typing import Dict, List, Optional

import torch
from mmengine.model import BaseModel
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from ..gans.gan_utils import set_requires_grad
from ..gans.hashing_gan import GAN_PREPROCESSOR
from .dsh_gans import build_loss_dict, split_semi_supervised_batch
from .three_stream_net import predict_hash_codes

REAL_TRIPLET_LOSSES = dict(
    triplet=dict(type='TripletRankingLoss', margin=1.0),
    classification=dict(type='MultiHotClassificationLoss'))


@MODELS.register_module()
class RealTripletHasher(BaseModel):
    """A :class:`ThreeStreamHashNet` trained with a triplet loss on the
    labelled real images of semi-supervised batches and the
    classification loss: DSH-GANs without synthetic images, at the same
    CNN, data and optimizer. Unlabelled images are unused; the adversary
    stream has nothing to tell apart and is frozen.

    The triplets are the triplet loss's business: every valid triplet of
    the batch (:class:`TripletRankingLoss`) or one sampled triplet per
    anchor (:class:`SampledTripletLoss`: DSH-GANs' triplet count).

    Args:
        hasher (dict): :class:`ThreeStreamHashNet` config.
        losses (dict): ``triplet`` (a ``(codes, labels)`` loss) and
            ``classification`` configs (None drops one). Defaults to
            :data:`REAL_TRIPLET_LOSSES`.
        multi_label (bool): Multi-label data (the classification loss
            must agree). Defaults to False.
        data_preprocessor (dict, optional): Defaults to pixels in [-1, 1],
            as DSH-GANs'.
        init_cfg (dict, optional): Initialization config.
    """

    def __init__(self,
                 hasher: dict,
                 losses: dict = REAL_TRIPLET_LOSSES,
                 multi_label: bool = False,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(
            data_preprocessor=MODELS.build(data_preprocessor
                                           or GAN_PREPROCESSOR),
            init_cfg=init_cfg)
        self.hasher = MODELS.build(hasher)
        self.num_classes = self.hasher.num_classes
        self.losses = build_loss_dict(losses, REAL_TRIPLET_LOSSES,
                                      'RealTripletHasher.losses',
                                      multi_label)
        # No synthetic images: DDP need not wait for the stream's gradient.
        set_requires_grad(self.hasher.adversary, False)

    @property
    def num_bits(self) -> int:
        """Code length."""
        return self.hasher.head.num_bits

    def loss(self, inputs: torch.Tensor,
             data_samples: List[DataSample]) -> Dict[str, torch.Tensor]:
        """Triplet and classification losses of the labelled reals."""
        reals, labels, _ = split_semi_supervised_batch(
            inputs, data_samples, self.num_classes, 'RealTripletHasher')
        codes, _, cls = self.hasher(reals)
        losses = {}
        if self.losses['triplet'] is not None:
            losses['loss_triplet'] = self.losses['triplet'](codes, labels)
        if self.losses['classification'] is not None:
            losses['loss_cls'] = self.losses['classification'](cls, labels)
        return losses

    def forward(self,
                inputs: torch.Tensor,
                data_samples: Optional[List[DataSample]] = None,
                mode: str = 'tensor'):
        """``'loss'``: :meth:`loss`; ``'predict'``: samples carrying
        ``hash_code``; ``'tensor'``: the CNN's three streams."""
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return predict_hash_codes(self.hasher, inputs, data_samples)
        if mode == 'tensor':
            return self.hasher(inputs)
        raise RuntimeError(f'Invalid mode "{mode}".')
