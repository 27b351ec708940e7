"""Which parameters an optimizer step changed (tests of multi-optimizer
train_steps: each step must update only its own networks)."""
import torch


def snapshot(module):
    """Copies of ``module``'s parameters by name."""
    return {k: v.detach().clone() for k, v in module.named_parameters()}


def changed(before, module):
    """Names of parameters of ``module`` that differ from ``before``."""
    return {k for k, v in module.named_parameters()
            if not torch.equal(before[k], v)}
