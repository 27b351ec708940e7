"""METAH's two losses on a classifier's responses to hash codes.

Both run in float32 under AMP
(:func:`~hashplugins.models.losses.utils.float32_loss`): the classifier's
logits come in half precision, and the entropy's log-softmax would
otherwise stay there.
"""
import torch
import torch.nn.functional as F

from .utils import float32_loss


@float32_loss
def code_classification_loss(logits: torch.Tensor, labels: torch.Tensor,
                             multi_label: bool = False) -> torch.Tensor:
    r"""Semantic-preservation loss on labelled (source) codes.

    Single-label (``multi_label=False``): softmax cross-entropy
    :math:`-\frac{1}{n}\sum_i \log c_{y_i}(z_i)`, the target class being
    the one-hot row's index. Multi-label: sigmoid binary cross-entropy,
    averaged over samples and classes (METAH reconstruction [I]).

    Args:
        logits (torch.Tensor): (n, C) classifier outputs.
        labels (torch.Tensor): (n, C) multi-hot labels (one-hot rows for
            single-label data).
        multi_label (bool): Sigmoid BCE instead of softmax CE.

    Returns:
        torch.Tensor: Scalar mean loss.
    """
    if logits.shape != labels.shape:
        raise ValueError(f'classification loss: logits {tuple(logits.shape)}'
                         f' and labels {tuple(labels.shape)} differ')
    if multi_label:
        return F.binary_cross_entropy_with_logits(logits,
                                                  labels.to(logits.dtype))
    if not torch.all(labels.sum(1) == 1):
        raise ValueError('classification loss: single-label mode needs '
                         'exactly one class per sample; set multi_label='
                         'True for multi-label data')
    return F.cross_entropy(logits, labels.argmax(1))


@float32_loss
def class_response_entropy(logits: torch.Tensor,
                           multi_label: bool = False) -> torch.Tensor:
    r"""Mean entropy of the class responses of (target) codes.

    Single-label: :math:`\frac{1}{n}\sum_j -\sum_c c_c(z_j)\log c_c(z_j)`
    with :math:`c = \mathrm{softmax}`; multi-label: the sum over classes of
    the binary entropies of :math:`\sigma(\ell_c)` (the entropy of
    independent per-class Bernoullis [I]), averaged over samples. Computed
    from log-probabilities of the logits, so saturated responses stay
    finite.

    Args:
        logits (torch.Tensor): (n, C) classifier outputs.
        multi_label (bool): Sigmoid responses instead of softmax.

    Returns:
        torch.Tensor: Scalar; 0 for an empty batch.
    """
    if logits.shape[0] == 0:
        return logits.sum() * 0.
    if multi_label:
        log_p, log_q = F.logsigmoid(logits), F.logsigmoid(-logits)
        ent = -(log_p.exp() * log_p + log_q.exp() * log_q)
    else:
        log_p = F.log_softmax(logits, dim=1)
        ent = -(log_p.exp() * log_p)
    return ent.sum(1).mean()
