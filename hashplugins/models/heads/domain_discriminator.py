"""Domain discriminator on hash codes, trained through gradient reversal."""
from collections import OrderedDict
from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS

from ..losses.utils import float32_loss
from ..utils import GradientReversal


@float32_loss
def domain_loss(logits: torch.Tensor, domains: torch.Tensor) -> torch.Tensor:
    """Mean BCE of domain logits against 0/1 domains, in float32 under AMP
    (the discriminator itself runs at the autocast precision).

    Args:
        logits (torch.Tensor): (N,) domain logits.
        domains (torch.Tensor): (N,) targets, 0 (source) or 1 (target).

    Returns:
        torch.Tensor: Scalar loss.
    """
    return F.binary_cross_entropy_with_logits(logits, domains)


@MODELS.register_module()
class DomainDiscriminator(BaseModule):
    """TAH's adversarial domain classifier ``G_d`` on the continuous codes.

    ``codes -> GRL -> Linear(b, 1024) -> ReLU -> Dropout(0.5) ->
    Linear(1024, 1024) -> ReLU -> Dropout(0.5) -> Linear(1024, 1)`` logit,
    with the domain loss

    .. math::
        L_{adv} = \\frac{1}{n_s + n_t} \\sum_{v}
            \\mathrm{BCEWithLogits}(G_d(\\mathrm{GRL}(z_v)), d_v),
        \\qquad d = 0 \\text{ (source)},\\ 1 \\text{ (target)}

    averaged over the source and target halves together (Caffe's
    ``SigmoidCrossEntropyLoss`` divides by the batch count). Weights start
    as N(0, 0.01), N(0, 0.01), N(0, 0.3), biases 0 (official
    ``train.prototxt``; spec/methods.md §2.2). The gradient reversal layer
    is part of this head; its coefficient is set through
    :meth:`set_grl_coeff` (by the model, from
    :class:`GradientReversalScheduleHook`).

    It is a *transfer head*: :class:`TransferHasher` calls
    ``loss(source_codes, target_codes, source_samples)``; it reads no
    labels.

    Args:
        in_channels (int): Code length b.
        hidden_channels (Sequence[int]): Hidden widths. Defaults to
            (1024, 1024).
        dropout (float): Dropout after each hidden ReLU. Defaults to 0.5.
        init_std (Sequence[float]): Normal init std of each Linear layer,
            hidden layers first. Defaults to (0.01, 0.01, 0.3).
        loss_weight (float): Weight of the domain loss (official
            prototxts: 0.8 syn->real, 1.0 real->syn). Defaults to 1.0.
        grl_coeff (float): Initial reversal coefficient. Defaults to 0.
        loss_name (str): Key of the loss in the loss dict. Defaults to
            ``'loss_domain'``.
    """

    def __init__(self,
                 in_channels: int,
                 hidden_channels: Sequence[int] = (1024, 1024),
                 dropout: float = 0.5,
                 init_std: Sequence[float] = (0.01, 0.01, 0.3),
                 loss_weight: float = 1.0,
                 grl_coeff: float = 0.,
                 loss_name: str = 'loss_domain',
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        widths = [in_channels, *hidden_channels, 1]
        if len(init_std) != len(widths) - 1:
            raise ValueError(
                f'DomainDiscriminator: init_std has {len(init_std)} values '
                f'for {len(widths) - 1} Linear layers (hidden_channels='
                f'{tuple(hidden_channels)} plus the output layer)')
        if 'loss' not in loss_name:
            raise ValueError(f'DomainDiscriminator: loss_name {loss_name!r} '
                             "must contain 'loss' so mmengine optimises it")
        self.in_channels = in_channels
        self.loss_weight = loss_weight
        self.loss_name = loss_name
        self.grl = GradientReversal(grl_coeff)
        # Named fc1, fc2, ..., fc_out so paramwise_cfg keys can address
        # each layer's bias (Caffe gives new biases their own lr_mult).
        layers = OrderedDict()
        num_hidden = len(widths) - 2
        for i, (w_in, w_out) in enumerate(zip(widths[:-1], widths[1:])):
            linear = nn.Linear(w_in, w_out)
            nn.init.normal_(linear.weight, 0., init_std[i])
            nn.init.zeros_(linear.bias)
            if i == num_hidden:
                layers['fc_out'] = linear
                break
            layers[f'fc{i + 1}'] = linear
            layers[f'relu{i + 1}'] = nn.ReLU(inplace=True)
            if dropout > 0:
                layers[f'drop{i + 1}'] = nn.Dropout(dropout)
        self.layers = nn.Sequential(layers)

    def set_grl_coeff(self, coeff: float) -> None:
        """Set the gradient reversal coefficient."""
        self.grl.set_coeff(coeff)

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        """Domain logits (N,) of ``codes`` (N, b), through the GRL."""
        if codes.shape[1] != self.in_channels:
            raise ValueError(
                f'DomainDiscriminator: got codes of width {codes.shape[1]}, '
                f'but in_channels={self.in_channels}; set it to the hash '
                'head num_bits')
        return self.layers(self.grl(codes)).squeeze(1)

    def loss(self, source_codes: torch.Tensor, target_codes: torch.Tensor,
             source_samples=None) -> dict:
        """Domain BCE over both halves (source = 0, target = 1).

        Returns:
            dict: ``{loss_name: weighted loss, 'domain_acc': accuracy}``;
            the accuracy (detached, in %) is only logged.
        """
        logits = self(torch.cat([source_codes, target_codes]))
        domains = torch.cat([
            source_codes.new_zeros(source_codes.shape[0]),
            target_codes.new_ones(target_codes.shape[0])
        ])
        loss = domain_loss(logits, domains)
        acc = ((logits.detach() >= 0).to(domains.dtype) == domains).float()
        return {
            self.loss_name: self.loss_weight * loss,
            'domain_acc': acc.mean() * 100
        }
