"""Input checks inside training steps that do not make the host wait."""
import torch


def check_true(condition: torch.Tensor, message: str) -> None:
    """Raise ``ValueError(message)`` unless every entry of ``condition``
    is true.

    On the host this is an ordinary check. On an accelerator, reading the
    result back would make each training step wait for the device, so it
    is a device-side assertion instead: the run stops with ``message``
    when the kernel runs (CUDA reports it at the next synchronisation).

    Args:
        condition (torch.Tensor): Boolean tensor of any shape.
        message (str): What is wrong and what would be right.
    """
    if condition.device.type == 'cpu':
        if not bool(condition.all()):
            raise ValueError(message)
        return
    torch._assert_async(condition.all(), message)
