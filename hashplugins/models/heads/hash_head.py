"""Hash layer: features -> continuous codes -> binary codes."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from ..utils import (gather_batch, labels_to_multihot,
                     pad_to_common_width)

_ACTIVATIONS = {
    'tanh': (torch.tanh, 0.),
    'sigmoid': (torch.sigmoid, 0.5),
    'identity': (lambda x: x, 0.),
}


@MODELS.register_module()
class HashHead(BaseModule):
    """Hash head: optional hidden layers, a ``num_bits`` linear layer and a
    squashing activation; the losses named in the config act on its codes.

    Continuous codes are ``tanh`` outputs in (-1, 1) by default (``sigmoid``
    gives (0, 1), ``identity`` leaves them unbounded). Binary codes are
    ``+1`` where the continuous code is at or above the activation's
    midpoint (0, or 0.5 for sigmoid) and ``-1`` elsewhere, so sign(0) = +1.

    Args:
        in_channels (int): Width of the (pooled) input feature.
        num_bits (int): Code length B.
        activation (str): ``'tanh'``, ``'sigmoid'`` or ``'identity'``.
            Defaults to ``'tanh'``.
        hidden_channels (Sequence[int]): Widths of hidden Linear-ReLU(-Dropout)
            layers before the hash layer (e.g. AlexNet's fc6/fc7 when the
            backbone stops at conv5). Defaults to ().
        dropout (float): Dropout after each hidden layer. Defaults to 0.
        losses (dict, optional): ``{name: loss_cfg}``; each loss is called as
            ``loss(codes, multihot_labels)`` and logged as ``loss_<name>``.
        num_classes (int, optional): Label width, used to validate labels
            and to give every rank the same label width.
        gather_across_ranks (bool): Under distributed training, compute the
            losses over the codes and labels of all ranks' batches, so that
            8 GPUs x 8 images form the same pairs as 1 GPU x 64 images.
            Needs ``num_classes`` (equal label widths on all ranks).
            Defaults to True.
        scale (float): Positive factor :math:`\beta` inside the activation,
            ``codes = act(beta * z)`` (HashNet's continuation
            ``tanh(beta z)``). A plain attribute, so a hook can change it
            during training (:class:`ContinuationScheduleHook`); binary
            codes do not depend on it (the sign of ``beta z`` is that of
            ``z``; with sigmoid, up to float rounding where
            ``|beta z| < 1e-7``). Defaults to 1.0.
        init_cfg (dict | list, optional): Initialization; N(0, 0.01) weights
            and zero biases for the linear layers by default.
    """

    def __init__(self,
                 in_channels: int,
                 num_bits: int,
                 activation: str = 'tanh',
                 hidden_channels: Sequence[int] = (),
                 dropout: float = 0.,
                 losses: Optional[Dict[str, dict]] = None,
                 num_classes: Optional[int] = None,
                 gather_across_ranks: bool = True,
                 scale: float = 1.0,
                 init_cfg: Optional[Union[dict, List[dict]]] = dict(
                     type='Normal', layer='Linear', std=0.01, bias=0.)):
        super().__init__(init_cfg=init_cfg)
        if not isinstance(num_bits, int) or num_bits <= 0:
            raise ValueError(f'HashHead: num_bits must be a positive int, '
                             f'got {num_bits!r}')
        if activation not in _ACTIVATIONS:
            raise ValueError(f'HashHead: activation must be one of '
                             f'{sorted(_ACTIVATIONS)}, got {activation!r}')
        if (isinstance(scale, bool) or not isinstance(scale, (int, float))
                or not 0 < scale < float('inf')):
            raise ValueError(f'HashHead: scale must be a positive finite '
                             f'number, got {scale!r}')
        self.in_channels = in_channels
        self.num_bits = num_bits
        self.scale = float(scale)
        self.activation = activation
        self.num_classes = num_classes
        self.gather_across_ranks = gather_across_ranks
        layers = []
        width = in_channels
        for hidden in hidden_channels:
            layers += [nn.Linear(width, hidden), nn.ReLU(inplace=True)]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = hidden
        self.hidden = nn.Sequential(*layers)
        self.fc_hash = nn.Linear(width, num_bits)
        self.losses = nn.ModuleDict({
            name: MODELS.build(cfg)
            for name, cfg in (losses or {}).items()
        })

    def pre_logits(self, feats: Union[torch.Tensor, Tuple[torch.Tensor]]
                   ) -> torch.Tensor:
        """Take the last stage's feature and flatten it to (N, C)."""
        if isinstance(feats, (tuple, list)):
            feats = feats[-1]
        feats = feats.flatten(1)
        if feats.shape[1] != self.in_channels:
            raise ValueError(
                f'HashHead: got features of width {feats.shape[1]}, but '
                f'in_channels={self.in_channels}; set model.head.in_channels '
                'to the backbone/neck output width (add a '
                'GlobalAveragePooling neck for spatial feature maps).')
        return self.hidden(feats)

    def forward(self, feats) -> torch.Tensor:
        """Continuous codes ``act(scale * z)`` of shape (N, num_bits)."""
        squash, _ = _ACTIVATIONS[self.activation]
        z = self.fc_hash(self.pre_logits(feats))
        # at the default 1 skip the product: existing graphs stay identical
        return squash(z if self.scale == 1. else self.scale * z)

    def binarize(self, codes: torch.Tensor) -> torch.Tensor:
        """Binary codes in {-1, +1} (float) from continuous codes."""
        _, midpoint = _ACTIVATIONS[self.activation]
        return torch.where(codes >= midpoint, 1., -1.).to(codes.dtype)

    def compute_losses(self, codes: torch.Tensor,
                       data_samples: Sequence[DataSample]) -> dict:
        """Apply every configured loss to ``codes`` of labelled samples.

        Args:
            codes (torch.Tensor): (N, B) continuous codes.
            data_samples (Sequence[DataSample]): The N samples, with
                ``gt_label``.

        Returns:
            dict: ``{'loss_<name>': scalar}``.
        """
        labels = labels_to_multihot(data_samples, self.num_classes,
                                    codes.device)
        if self.gather_across_ranks:
            codes = gather_batch(codes)
            labels = gather_batch(pad_to_common_width(labels),
                                  with_grad=False)
        return {
            f'loss_{name}': loss(codes, labels)
            for name, loss in self.losses.items()
        }

    def loss(self, feats, data_samples: Sequence[DataSample]) -> dict:
        """Compute the configured losses from backbone/neck features."""
        return self.compute_losses(self(feats), data_samples)

    def predict(self, feats, data_samples: Optional[List] = None
                ) -> List[DataSample]:
        """Binary codes in ``data_sample.hash_code`` ((B,) float of ±1)."""
        codes = self.binarize(self(feats)).detach()
        if data_samples is None:
            data_samples = [DataSample() for _ in range(codes.shape[0])]
        for sample, code in zip(data_samples, codes):
            sample.set_field(code, 'hash_code', field_type='data')
        return data_samples
