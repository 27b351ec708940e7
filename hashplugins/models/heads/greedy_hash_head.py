"""GreedyHash: a classifier on strictly binary codes (Su et al., 2018)."""
import math
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from ..utils import check_true, labels_to_multihot
from ..utils.straight_through_sign import straight_through_sign
from .hash_head import HashHead

# PyTorch's default nn.Linear weight init, U(+-1/sqrt(fan_in)), which the
# authors' (and DeepHash-pytorch's) classifier keeps: Kaiming-uniform with
# a = sqrt(5) has gain sqrt(1/3), hence bound sqrt(3/fan_in) * gain.
_TORCH_DEFAULT_LINEAR = dict(
    type='Kaiming', a=math.sqrt(5), mode='fan_in',
    nonlinearity='leaky_relu', distribution='uniform', bias=0.)

_CLS_TARGETS = ('multi_hot', 'first_label')


@MODELS.register_module()
class GreedyHashHead(HashHead):
    r"""Hash layer + sign layer + classifier on the binary codes (GreedyHash).

    Su, Zhang, Han, Tian, "Greedy Hash: Towards Fast Optimization for
    Accurate Hash Coding in CNN", NeurIPS 2018. The hash layer output
    :math:`h = W_h x + c` (linear by default) is binarised *in the forward
    pass* by the hash coding layer, :math:`b = \operatorname{sgn}(h)`,
    whose backward pass hands the gradient over unchanged,
    :math:`\partial L / \partial h = \partial L / \partial b`
    (:func:`straight_through_sign`, sign(0) = +1). A linear classifier
    on ``b`` is trained with the labels,

    .. math::
        L = \underbrace{\frac{1}{N}\sum_i \mathrm{CE}\big(W_c\, b_i,\;
            y_i\big)}_{\texttt{loss\_cls}}
            \;+\; \underbrace{\alpha\,\frac{1}{NK}\sum_{i,t}
            \big|\,|h_{it}| - 1\big|^3}_{\texttt{losses}}

    where the first term is ``cls_loss`` applied to the classifier's
    logits here, per sample (it pairs no samples, so it needs no gathering
    across ranks), and the second is composed in the config like any hash
    head loss, e.g. ``losses=dict(penalty=dict(type='HashQuantizationLoss',
    mode='cubic', loss_weight=0.1))``; it acts on ``h``, as HashHead's
    losses act on its continuous codes. ``predict`` gives ``sgn(h)``.

    Args:
        in_channels (int): Width of the (pooled) input feature.
        num_bits (int): Code length K.
        num_classes (int): Number of classes C (classifier width).
        activation (str): ``'identity'`` (the paper's linear hash layer) or
            ``'tanh'``; the sign layer thresholds at 0, so ``'sigmoid'`` is
            refused. Defaults to ``'identity'``.
        cls_loss (dict): Loss on ``(logits, multihot_labels)``. Defaults
            to ``dict(type='MultiHotClassificationLoss')`` (softmax CE, the
            authors'); ``multi_label=True`` in it gives per-class sigmoid
            BCE for multi-label data.
        cls_target (str): What a softmax CE is trained towards when a row
            has several labels: ``'multi_hot'`` passes the multi-hot row to
            ``cls_loss`` (MultiHotClassificationLoss then uses
            :math:`y/\|y\|_1`); ``'first_label'`` keeps only the
            lowest-index label, as DeepHash-pytorch's ``argmax`` does. The
            two agree on single-label data. Defaults to ``'multi_hot'``.
        cls_bias (bool): Give the classifier a bias. Defaults to False
            (authors' code and DeepHash-pytorch: ``bias=False``).
        losses (dict, optional): Losses on ``h`` (see :class:`HashHead`);
            the GreedyHash penalty goes here. Must not be named ``'cls'``.
        init_cfg (dict | list, optional): Defaults to N(0, 0.01) for the
            hash layer (HashHead's, as DeepHash-pytorch's ResNet hash
            layer) and PyTorch's default init for the classifier (authors'
            code).
        **kwargs: Further :class:`HashHead` arguments (``hidden_channels``,
            ``dropout``, ``gather_across_ranks``, ...).
    """

    def __init__(self,
                 in_channels: int,
                 num_bits: int,
                 num_classes: int,
                 activation: str = 'identity',
                 cls_loss: dict = dict(type='MultiHotClassificationLoss'),
                 cls_target: str = 'multi_hot',
                 cls_bias: bool = False,
                 losses: Optional[Dict[str, dict]] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = dict(
                     type='Normal', layer='Linear', std=0.01, bias=0.,
                     override=dict(name='fc_cls',
                                   **_TORCH_DEFAULT_LINEAR)),
                 **kwargs):
        if isinstance(num_classes, bool) or not isinstance(
                num_classes, int) or num_classes <= 0:
            raise ValueError('GreedyHashHead: num_classes must be a positive '
                             f'int (the classifier width), got '
                             f'{num_classes!r}')
        if activation not in ('identity', 'tanh'):
            raise ValueError("GreedyHashHead: activation must be 'identity' "
                             "or 'tanh' (the sign layer thresholds at 0), "
                             f'got {activation!r}')
        if cls_target not in _CLS_TARGETS:
            raise ValueError(f'GreedyHashHead: cls_target must be one of '
                             f'{_CLS_TARGETS}, got {cls_target!r}')
        if not isinstance(cls_loss, dict) or 'type' not in cls_loss:
            raise ValueError('GreedyHashHead: cls_loss must be a loss config '
                             "dict with a 'type', e.g. dict(type="
                             f"'MultiHotClassificationLoss'), got "
                             f'{cls_loss!r}')
        if 'cls' in (losses or {}):
            raise ValueError("GreedyHashHead: losses may not be named 'cls' "
                             "(its key 'loss_cls' is the classifier's); "
                             'rename it')
        super().__init__(
            in_channels=in_channels,
            num_bits=num_bits,
            activation=activation,
            losses=losses,
            num_classes=num_classes,
            init_cfg=init_cfg,
            **kwargs)
        self.cls_target = cls_target
        self.fc_cls = nn.Linear(num_bits, num_classes, bias=cls_bias)
        self.cls_loss = MODELS.build(cls_loss)

    def classify(self, codes: torch.Tensor) -> torch.Tensor:
        """Class logits ``W_c sgn(h)`` (N, C), with the gradient passed
        straight through the sign to ``codes`` (N, K)."""
        return self.fc_cls(straight_through_sign(codes))

    def classification_losses(self, codes: torch.Tensor,
                              data_samples: Sequence[DataSample]) -> dict:
        """The classifier's loss on this rank's samples.

        Args:
            codes (torch.Tensor): (N, K) continuous codes h.
            data_samples (Sequence[DataSample]): The N samples, with
                ``gt_label``.

        Returns:
            dict: ``loss_cls`` and, for a single-class softmax target, the
            logged training accuracy ``cls_acc`` (%) of the binary codes.
        """
        logits = self.classify(codes)
        labels = labels_to_multihot(data_samples, self.num_classes,
                                    logits.device)
        # An empty row would make the CE target 0/0 (NaN): refuse it.
        check_true(labels.sum(1) > 0,
                   'GreedyHashHead: every training sample needs a label '
                   '(an empty gt_label was given)')
        if self.cls_target == 'first_label':
            labels = F.one_hot(labels.argmax(1), self.num_classes).to(
                labels.dtype)
        losses = dict(loss_cls=self.cls_loss(logits, labels))
        if not getattr(self.cls_loss, 'multi_label', False):
            hit = logits.detach().argmax(1) == labels.argmax(1)
            losses['cls_acc'] = hit.float().mean() * 100
        return losses

    def loss(self, feats, data_samples: Sequence[DataSample]) -> dict:
        """The configured losses on ``h`` (over the global batch under
        DDP) and the classifier's loss on the binary codes."""
        codes = self(feats)
        losses = self.compute_losses(codes, data_samples)
        losses.update(self.classification_losses(codes, data_samples))
        return losses
