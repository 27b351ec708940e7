"""Forward passes that leave BatchNorm running statistics untouched."""
import contextlib

import torch.nn as nn


@contextlib.contextmanager
def frozen_batch_norm_statistics(module: nn.Module):
    """Within the block, BatchNorm layers of ``module`` in training mode
    still normalize with the batch's statistics but update neither their
    running mean/var nor ``num_batches_tracked``.

    For passes whose batches must not become test-time statistics (e.g.
    a generator step through a hashing CNN on mostly synthetic images).
    Implemented by switching ``track_running_stats`` off, with which
    ``_BatchNorm.forward`` (and ``SyncBatchNorm``) passes no running
    buffers to ``F.batch_norm``; restored on exit, also after an error.

    Args:
        module (nn.Module): The network.
    """
    layers = [m for m in module.modules()
              if isinstance(m, nn.modules.batchnorm._BatchNorm)
              and m.track_running_stats]
    for layer in layers:
        layer.track_running_stats = False
    try:
        yield
    finally:
        for layer in layers:
            layer.track_running_stats = True
