"""DCGAN discriminator: unconditional, projection or auxiliary-classifier."""
from typing import Optional, Tuple

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS

from .dcgan_generator import upsample_stages

CONDITIONINGS = (None, 'projection', 'ac')


@MODELS.register_module()
class DCGANDiscriminator(BaseModule):
    """DCGAN discriminator (Radford et al. 2016) for 32 or 64 px images.

    ``[Conv(4, s2) -> (BN) -> LeakyReLU(0.2)] x S`` down to a 4x4 map,
    flattened to the feature ``φ(x)``; BN is skipped after the first conv,
    as in DCGAN. It returns ``(adv_logit, cls_logits)``:

    - unconditional (``conditioning=None``): ``adv_logit = w·φ(x) + b``,
      ``cls_logits`` is None;
    - ``'projection'`` (Miyato & Koyama 2018): ``adv_logit = w·φ(x) + b +
      ⟨E y, φ(x)⟩`` with a learned class embedding E; needs ``labels``;
      ``cls_logits`` is None;
    - ``'ac'`` (AC-GAN, Odena et al. 2017; DSH-GANs' discriminator "both
      separates real from synthetic and classifies into semantic labels",
      spec §4.1 [S]): ``cls_logits = W_c φ(x)`` of shape (N, num_classes);
      labels are not needed.

    Args:
        in_size (int): 32 or 64.
        in_channels (int): Image channels. Defaults to 3.
        base_channels (int): Channels of the first conv. Defaults to 64.
        num_classes (int, optional): Needed by ``'projection'``/``'ac'``.
        conditioning (str, optional): None, ``'projection'`` or ``'ac'``.
        init_cfg (dict, optional): DCGAN init N(0, 0.02) by default.
    """

    def __init__(self,
                 in_size: int = 32,
                 in_channels: int = 3,
                 base_channels: int = 64,
                 num_classes: Optional[int] = None,
                 conditioning: Optional[str] = None,
                 init_cfg: Optional[dict] = dict(
                     type='Normal', layer=['Conv2d', 'Linear', 'Embedding'],
                     std=0.02, bias=0.)):
        super().__init__(init_cfg=init_cfg)
        if conditioning not in CONDITIONINGS:
            raise ValueError(f'DCGANDiscriminator: conditioning must be one '
                             f'of {CONDITIONINGS}, got {conditioning!r}')
        if (conditioning is None) != (num_classes is None):
            raise ValueError(
                'DCGANDiscriminator: set num_classes together with '
                f"conditioning='projection' or 'ac' (got num_classes="
                f'{num_classes!r}, conditioning={conditioning!r})')
        stages = upsample_stages(in_size)
        self.in_size = in_size
        self.num_classes = num_classes
        self.conditioning = conditioning
        layers = []
        channels = in_channels
        for i in range(stages):
            out = base_channels * 2**i
            layers.append(nn.Conv2d(channels, out, 4, 2, 1, bias=i == 0))
            if i > 0:
                layers.append(nn.BatchNorm2d(out))
            layers.append(nn.LeakyReLU(0.2, True))
            channels = out
        self.features = nn.Sequential(*layers)
        self.feat_dim = channels * 16
        self.fc_adv = nn.Linear(self.feat_dim, 1)
        self.class_embed = (nn.Embedding(num_classes, self.feat_dim)
                            if conditioning == 'projection' else None)
        self.fc_cls = (nn.Linear(self.feat_dim, num_classes)
                       if conditioning == 'ac' else None)

    def forward(self,
                images: torch.Tensor,
                labels: Optional[torch.Tensor] = None
                ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """``(adv_logit (N,), cls_logits (N, K) or None)``.

        Args:
            images (torch.Tensor): (N, C, H, W) in [-1, 1].
            labels (torch.Tensor, optional): (N,) class indices, required
                by the projection discriminator (ignored by the others).
        """
        if images.shape[-1] != self.in_size or images.shape[-2] != (
                self.in_size):
            raise ValueError(
                f'DCGANDiscriminator: expected {self.in_size}x{self.in_size} '
                f'images, got {tuple(images.shape[-2:])}; resize the data '
                'or set in_size')
        feats = self.features(images).flatten(1)
        logit = self.fc_adv(feats).squeeze(1)
        if self.class_embed is not None:
            if labels is None:
                raise ValueError('DCGANDiscriminator: the projection '
                                 'discriminator needs labels')
            logit = logit + (self.class_embed(labels) * feats).sum(1)
        cls_logits = self.fc_cls(feats) if self.fc_cls is not None else None
        return logit, cls_logits
