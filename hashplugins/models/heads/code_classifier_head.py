"""METAH's semantic-preservation classifier on the hash codes."""
from collections import OrderedDict
from typing import Optional, Sequence

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS

from ..losses.class_response_losses import (class_response_entropy,
                                            code_classification_loss)
from ..utils import labels_to_multihot


@MODELS.register_module()
class CodeClassifierHead(BaseModule):
    r"""A classifier on the continuous codes: source CE + target entropy.

    METAH (abstract; spec/methods.md §3) adds to transfer adversarial
    hashing a *semantic preservation module*, a classification sub-network
    whose input is the hash code and which is trained with the source
    labels, and a *min-entropy loss* on the unlabelled target samples'
    class responses. Both terms use the same classifier
    :math:`c(z) = \mathrm{softmax}(W_c z + b_c)` (linear by default, an
    optional hidden layer [?]; sigmoid for multi-label data [I]):

    .. math::
        L_{sp} = \alpha \cdot \mathrm{CE}(c(z_s), y_s), \qquad
        L_{ent} = \beta \cdot r_t \cdot \frac{1}{n_t}\sum_{j} H(c(z_j))

    with :math:`r_t` = :attr:`ent_ramp`, set every iteration by a
    :class:`RampScheduleHook` (``attribute='ent_ramp'``): entropy
    minimisation before the classifier has learned anything collapses the
    predictions [I]. It reads the continuous codes ``z`` (not ``sign(z)``)
    so that gradients reach the hash layer [I]. The entropy gradient also
    trains the classifier weights (shared weights [I]).

    It is a *transfer head*: :class:`TransferHasher` calls
    ``loss(source_codes, target_codes, source_samples)``. Only the source
    samples' labels are read; the target half enters only the entropy
    term, which reads no labels.

    Each term is switched off by a weight of 0 (or None); it is then not
    computed at all (ablations METAH-noent / METAH-nocls).

    Args:
        in_channels (int): Code length b.
        num_classes (int): Number of classes C.
        hidden_channels (Sequence[int]): Hidden Linear-ReLU widths before
            the output layer. Defaults to () (linear classifier).
        dropout (float): Dropout after each hidden layer. Defaults to 0.
        multi_label (bool): Sigmoid BCE / binary entropies instead of
            softmax. Defaults to False.
        cls_weight (float, optional): alpha. Defaults to 1.0 [?].
        ent_weight (float, optional): beta. Defaults to 0.1 [?].
        ent_ramp (float): Initial ramp factor r_t; a ramp hook overwrites
            it. Defaults to 1.0 (no ramp without a hook).
        cls_loss_name (str): Defaults to ``'loss_cls'``.
        ent_loss_name (str): Defaults to ``'loss_ent'``.
        init_cfg (dict, optional): Defaults to N(0, 0.01) weights, zero
            biases (as the hash layer).
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 hidden_channels: Sequence[int] = (),
                 dropout: float = 0.,
                 multi_label: bool = False,
                 cls_weight: Optional[float] = 1.0,
                 ent_weight: Optional[float] = 0.1,
                 ent_ramp: float = 1.0,
                 cls_loss_name: str = 'loss_cls',
                 ent_loss_name: str = 'loss_ent',
                 init_cfg: Optional[dict] = dict(
                     type='Normal', layer='Linear', std=0.01, bias=0.)):
        super().__init__(init_cfg=init_cfg)
        for name in (cls_loss_name, ent_loss_name):
            if 'loss' not in name:
                raise ValueError(f'CodeClassifierHead: loss name {name!r} '
                                 "must contain 'loss' so mmengine "
                                 'optimises it')
        if not (cls_weight or ent_weight):
            raise ValueError('CodeClassifierHead: cls_weight and ent_weight '
                             'are both 0/None, so the head adds no loss; '
                             'remove it from transfer_heads instead')
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.multi_label = multi_label
        self.cls_weight = cls_weight or 0.
        self.ent_weight = ent_weight or 0.
        self.ent_ramp = float(ent_ramp)
        self.cls_loss_name = cls_loss_name
        self.ent_loss_name = ent_loss_name
        layers = OrderedDict()
        width = in_channels
        for i, hidden in enumerate(hidden_channels, 1):
            layers[f'fc{i}'] = nn.Linear(width, hidden)
            layers[f'relu{i}'] = nn.ReLU(inplace=True)
            if dropout > 0:
                layers[f'drop{i}'] = nn.Dropout(dropout)
            width = hidden
        layers['fc_out'] = nn.Linear(width, num_classes)
        self.layers = nn.Sequential(layers)

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        """Class logits (N, C) of continuous codes (N, b)."""
        if codes.shape[1] != self.in_channels:
            raise ValueError(
                f'CodeClassifierHead: got codes of width {codes.shape[1]}, '
                f'but in_channels={self.in_channels}; set it to the hash '
                'head num_bits')
        return self.layers(codes)

    def loss(self, source_codes: torch.Tensor, target_codes: torch.Tensor,
             source_samples) -> dict:
        """The weighted source classification and target entropy losses.

        Returns:
            dict: ``cls_loss_name`` (if ``cls_weight``), ``ent_loss_name``
            (if ``ent_weight``; already multiplied by :attr:`ent_ramp`) and,
            for single-label data, the logged source accuracy ``cls_acc``
            (%).
        """
        losses = {}
        if self.cls_weight:
            logits = self(source_codes)
            try:
                labels = labels_to_multihot(source_samples, self.num_classes,
                                            logits.device)
            except ValueError as err:
                raise ValueError(f'CodeClassifierHead: {err}; set its '
                                 'num_classes to the number of classes of '
                                 'the source labels') from err
            losses[self.cls_loss_name] = self.cls_weight * \
                code_classification_loss(logits, labels, self.multi_label)
            if not self.multi_label:
                hit = logits.detach().argmax(1) == labels.argmax(1)
                losses['cls_acc'] = hit.float().mean() * 100
        if self.ent_weight:
            losses[self.ent_loss_name] = (
                self.ent_weight * self.ent_ramp *
                class_response_entropy(self(target_codes), self.multi_label))
        return losses
