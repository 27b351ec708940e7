"""Helpers shared by the losses."""
import contextlib
import functools
from typing import Callable

import torch

# Device types whose autocast a loss switches off while it runs.
_AUTOCAST_DEVICE_TYPES = ('cuda', 'cpu', 'xpu', 'mps')


def _autocast_enabled(device_type: str) -> bool:
    try:
        return torch.is_autocast_enabled(device_type)
    except (RuntimeError, TypeError):  # a device type this build lacks
        return False


def _to_float32(value):
    """Half-precision floating tensors as float32; anything else as is
    (float64 stays float64, so float64 reference tests keep their
    precision)."""
    if isinstance(value, torch.Tensor) and value.dtype in (torch.float16,
                                                           torch.bfloat16):
        return value.float()
    return value


def float32_loss(fn: Callable) -> Callable:
    """Run a loss in float32 with autocast switched off.

    Under ``--amp`` the network's outputs come as float16/bfloat16, and
    autocast would run the loss's matmuls in half precision too. Losses
    take logs and exps of probabilities and inner products, where half
    precision overflows (``exp``), rounds ``1 - 1e-6`` to exactly 1
    (``log(0)``) or loses the small differences a hashing loss is made of.
    The wrapped function sees its half-precision tensor arguments as
    float32 (gradients flow back through the cast) and runs with every
    enabled autocast disabled, so it computes what it computes in fp32.

    Args:
        fn (Callable): A loss function or a loss module's ``forward``.

    Returns:
        Callable: The wrapped function.
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        args = tuple(_to_float32(a) for a in args)
        kwargs = {k: _to_float32(v) for k, v in kwargs.items()}
        with contextlib.ExitStack() as stack:
            for device_type in _AUTOCAST_DEVICE_TYPES:
                if _autocast_enabled(device_type):
                    stack.enter_context(
                        torch.autocast(device_type, enabled=False))
            return fn(*args, **kwargs)

    return wrapper
