"""Small helpers shared by the GAN models (HashingGAN, later DSH-GANs)."""
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..losses.utils import float32_loss

NOISE_DISTS = ('normal', 'uniform')
ADV_LOSSES = ('vanilla', 'hinge')


def set_requires_grad(modules, flag: bool) -> None:
    """Set ``requires_grad`` of every parameter of ``modules`` (as mmagic)."""
    if isinstance(modules, nn.Module):
        modules = [modules]
    for module in modules:
        for param in module.parameters():
            param.requires_grad_(flag)


def gather_log_vars(log_vars_list: List[Dict[str, torch.Tensor]]
                    ) -> Dict[str, torch.Tensor]:
    """Mean of each logged value over several inner steps (as mmagic)."""
    if len(log_vars_list) == 1:
        return dict(log_vars_list[0])
    return {
        key: sum(logs[key] for logs in log_vars_list) / len(log_vars_list)
        for key in log_vars_list[0]
    }


def sample_noise(num: int,
                 noise_size: int,
                 dist: str = 'normal',
                 device=None,
                 generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """``z ~ N(0, I)`` (mmagic's DCGAN) or ``U(-1, 1)`` (the original DCGAN,
    and DSH-GANs' reconstruction, spec §4.2), shape (num, noise_size)."""
    if dist == 'normal':
        return torch.randn(num, noise_size, generator=generator,
                           device=device)
    if dist == 'uniform':
        return torch.rand(num, noise_size, generator=generator,
                          device=device) * 2 - 1
    raise ValueError(f'noise_dist must be one of {NOISE_DISTS}, got {dist!r}')


@float32_loss
def adversarial_loss(logits: torch.Tensor, target_real: bool, kind: str,
                     for_generator: bool = False) -> torch.Tensor:
    """GAN loss of discriminator logits.

    - ``'vanilla'``: ``BCE(σ(d), t)``; for the generator this is the
      non-saturating ``-log σ(d(G(z)))`` (Goodfellow et al. 2014).
    - ``'hinge'``: discriminator ``max(0, 1 - d)`` on real and
      ``max(0, 1 + d)`` on fakes; generator ``-d``.

    Computed in float32 under AMP
    (:func:`~hashplugins.models.losses.utils.float32_loss`).

    Args:
        logits (torch.Tensor): (N,) discriminator logits.
        target_real (bool): Whether the target is "real".
        kind (str): ``'vanilla'`` or ``'hinge'``.
        for_generator (bool): Generator's form (hinge only differs).

    Returns:
        torch.Tensor: Scalar mean loss.
    """
    if kind == 'vanilla':
        target = torch.full_like(logits, 1. if target_real else 0.)
        return F.binary_cross_entropy_with_logits(logits, target)
    if kind == 'hinge':
        if for_generator:
            return -logits.mean()
        sign = -1. if target_real else 1.
        return F.relu(1. + sign * logits).mean()
    raise ValueError(f'adv_loss must be one of {ADV_LOSSES}, got {kind!r}')


def single_labels(data_samples: Sequence, owner: str,
                  device=None) -> torch.Tensor:
    """(N,) class indices from ``gt_label``; each sample needs exactly one.

    Raises:
        ValueError: Naming the sample, if it has no label or several.
    """
    labels = []
    for i, sample in enumerate(data_samples):
        label = sample.get('gt_label')
        if label is None or label.numel() != 1:  # shapes only: no sync
            raise ValueError(
                f'{owner}: a class-conditional GAN needs exactly one '
                f'gt_label per real image; sample {i} has '
                f'{None if label is None else label.tolist()!r}')
        labels.append(torch.as_tensor(label).reshape(1))
    # one concatenation, not one host read per sample
    return torch.cat(labels).to(device=device, dtype=torch.long)
