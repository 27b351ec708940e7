"""ganreg (Geng et al. 2018): a hasher regularized on GAN fake images."""
from typing import List, Optional, Sequence, Tuple

import torch
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from ..utils import select_rows
from .deep_hasher import DeepHasher


def split_real_fake(data_samples: Sequence[DataSample]
                    ) -> Tuple[List[int], List[int]]:
    """Batch positions of real and fake samples, from the ``is_fake``
    metainfo every training sample must carry.

    Raises:
        ValueError: Naming the sample, if its tag is missing or not a bool.
    """
    real, fake = [], []
    for i, sample in enumerate(data_samples):
        tag = sample.metainfo.get('is_fake')
        if isinstance(tag, torch.Tensor) and tag.numel() == 1:
            tag = bool(tag.item())
        if not isinstance(tag, bool):
            raise ValueError(
                f'GANRegularizedHasher: sample {i} of the batch has is_fake='
                f'{tag!r}; train with a RealFakeDataset (collate_fn='
                "dict(type='real_fake_collate')), which tags every sample")
        (fake if tag else real).append(i)
    return real, fake


@MODELS.register_module()
class GANRegularizedHasher(DeepHasher):
    """A :class:`DeepHasher` trained on real images and GAN fakes.

    Stage 2 of Geng et al. (spec §5): one forward pass over the batch
    (reals then fakes, from :class:`RealFakeDataset`), then

    .. math::
        L = L_{sup}(\\text{real codes, real labels})
            + \\lambda \\cdot L_{ME}(\\text{fake codes}),

    where the hash head's configured losses are :math:`L_{sup}` (triplet
    ranking by default in our configs) and ``fake_loss`` is
    :math:`\\lambda L_{ME}` (:class:`MaxEntropyLoss`, whose ``loss_weight``
    is λ). Fakes reach only ``fake_loss``; their labels (empty anyway)
    are never read. With no fake in a batch (or ``fake_loss=None``) this
    is the plain hasher, the "without fakes" baseline.

    Args:
        backbone (dict): Backbone config.
        head (dict): :class:`HashHead` config with the supervised losses.
        neck (dict, optional): Neck config.
        fake_loss (dict, optional): Loss on fake codes, called as
            ``loss(codes)``. Defaults to ``MaxEntropyLoss``.
        data_preprocessor (dict, optional): Data preprocessor config.
        init_cfg (dict, optional): Initialization config.
    """

    def __init__(self,
                 backbone: dict,
                 head: dict,
                 neck: Optional[dict] = None,
                 fake_loss: Optional[dict] = dict(type='MaxEntropyLoss'),
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(backbone=backbone, head=head, neck=neck,
                         data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        self.fake_loss = MODELS.build(fake_loss) if fake_loss else None
        range_ = getattr(self.fake_loss, 'code_range', None)
        if range_ is not None and range_ != self.head.activation:
            raise ValueError(
                f'GANRegularizedHasher: fake_loss.code_range={range_!r} but '
                f'head.activation={self.head.activation!r}; they must match')

    def loss(self, inputs: torch.Tensor,
             data_samples: List[DataSample]) -> dict:
        """Supervised losses on the real part, ``loss_maxent`` on fakes."""
        real, fake = split_real_fake(data_samples)
        if not real:
            raise ValueError('GANRegularizedHasher: the batch holds no real '
                             '(labelled) sample')
        codes = self.head(self.extract_feat(inputs))
        losses = self.head.compute_losses(
            select_rows(codes, real), [data_samples[i] for i in real])
        if self.fake_loss is not None and fake:
            losses['loss_maxent'] = self.fake_loss(select_rows(codes, fake))
        return losses
