"""DCGAN generator for 32 or 64 px images, optionally class-conditional."""
from typing import Optional

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS

from ..utils import check_true

_SIZES = (32, 64)


def upsample_stages(out_size: int) -> int:
    """Number of stride-2 stages between a 4x4 map and ``out_size``."""
    if out_size not in _SIZES:
        raise ValueError(f'DCGAN: image size must be one of {_SIZES}, got '
                         f'{out_size!r}')
    return {32: 3, 64: 4}[out_size]


@MODELS.register_module()
class DCGANGenerator(BaseModule):
    """DCGAN generator (Radford et al. 2016), as mmagic's ``DCGANGenerator``.

    ``z -> Linear -> (C0, 4, 4) -> [ConvT(4, s2) -> BN -> ReLU] x S ->
    ConvT -> tanh``, halving the channels at each stage; S = 3 for 32 px,
    4 for 64 px. Images are in [-1, 1], RGB.

    Class-conditional (``num_classes`` set): the noise is concatenated with
    a learned label embedding, ``[z; E y]``, the generator of DSH-GANs'
    reconstruction (spec §4.2, "concatenation of a label embedding and a
    noise embedding" [S]). Labels are class indices (N,) or multi-hot rows
    (N, num_classes): a multi-hot row ``y`` is embedded as
    ``(y / |y|_1) E``, the mean of its classes' embeddings, so a one-hot
    row gives exactly the embedding of its class index.

    Args:
        out_size (int): 32 or 64.
        noise_size (int): Dimension of z. Defaults to 100 (DCGAN).
        base_channels (int): Channels of the last hidden stage; the 4x4
            map has ``base_channels * 2**(S-1)``. Defaults to 64.
        out_channels (int): Image channels. Defaults to 3.
        num_classes (int, optional): Conditional generator when set.
        embed_dim (int, optional): Label embedding width. Defaults to
            ``num_classes`` (a learned map of the one-hot label).
        init_cfg (dict, optional): DCGAN init N(0, 0.02) by default.
    """

    def __init__(self,
                 out_size: int = 32,
                 noise_size: int = 100,
                 base_channels: int = 64,
                 out_channels: int = 3,
                 num_classes: Optional[int] = None,
                 embed_dim: Optional[int] = None,
                 init_cfg: Optional[dict] = dict(
                     type='Normal', layer=['ConvTranspose2d', 'Linear'],
                     std=0.02, bias=0.)):
        super().__init__(init_cfg=init_cfg)
        stages = upsample_stages(out_size)
        self.out_size = out_size
        self.noise_size = noise_size
        self.num_classes = num_classes
        if num_classes is not None:
            self.embed_dim = embed_dim or num_classes
            self.label_embed = nn.Embedding(num_classes, self.embed_dim)
        else:
            self.embed_dim = 0
            self.label_embed = None
        channels = base_channels * 2**(stages - 1)
        self.fc = nn.Linear(noise_size + self.embed_dim, channels * 16)
        self.fc_norm = nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU(True))
        self._channels = channels
        blocks = []
        for _ in range(stages - 1):
            blocks += [
                nn.ConvTranspose2d(channels, channels // 2, 4, 2, 1,
                                   bias=False),
                nn.BatchNorm2d(channels // 2),
                nn.ReLU(True)
            ]
            channels //= 2
        blocks += [nn.ConvTranspose2d(channels, out_channels, 4, 2, 1),
                   nn.Tanh()]
        self.blocks = nn.Sequential(*blocks)

    def embed_labels(self, labels: torch.Tensor) -> torch.Tensor:
        """(N, embed_dim) embeddings of class indices or multi-hot rows."""
        if labels.ndim == 1:
            return self.label_embed(labels)
        if labels.ndim != 2 or labels.shape[1] != self.num_classes:
            raise ValueError(
                f'DCGANGenerator: labels must be (N,) class indices or (N, '
                f'{self.num_classes}) multi-hot rows, got '
                f'{tuple(labels.shape)}')
        weights = labels.to(self.label_embed.weight.dtype)
        check_true(weights.sum(1) > 0, 'DCGANGenerator: a multi-hot label '
                   'row has no positive entry')
        weights = weights / weights.sum(1, keepdim=True)
        return weights @ self.label_embed.weight

    def forward(self,
                noise: torch.Tensor,
                labels: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Images (N, C, H, W) in [-1, 1].

        Args:
            noise (torch.Tensor): (N, noise_size).
            labels (torch.Tensor, optional): (N,) class indices or
                (N, num_classes) multi-hot rows; required exactly when the
                generator is conditional.
        """
        if noise.ndim != 2 or noise.shape[1] != self.noise_size:
            raise ValueError(f'DCGANGenerator: noise must be (N, '
                             f'{self.noise_size}), got {tuple(noise.shape)}')
        if self.label_embed is not None:
            if labels is None:
                raise ValueError('DCGANGenerator: a conditional generator '
                                 '(num_classes set) needs labels')
            noise = torch.cat([noise, self.embed_labels(labels)], dim=1)
        elif labels is not None:
            raise ValueError('DCGANGenerator: labels given to an '
                             'unconditional generator (num_classes=None)')
        x = self.fc(noise).view(-1, self._channels, 4, 4)
        return self.blocks(self.fc_norm(x))
