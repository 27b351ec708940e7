"""Packed samples for the encoder tests. Named apart from test files so no
test folder shadows it."""
import numpy as np
import torch
from mmpretrain.structures import DataSample


def lenet_items(num, multi=True, missing=()):
    """``num`` in-memory 1x32x32 uint8 items as the LeNet-5 pipeline packs
    them (seeded by ``num``); labels ``i % 3`` (and ``3 + i % 2`` for
    ``multi`` where ``i % 3 > 0``), none for the positions in
    ``missing``."""
    rng = np.random.default_rng(num)
    items = []
    for i in range(num):
        sample = DataSample(metainfo=dict(sample_idx=i))
        if i not in missing:
            sample.set_gt_label([i % 3, 3 + i % 2][:1 + (multi and i % 3 > 0)])
        items.append(
            dict(
                inputs=torch.from_numpy(
                    rng.integers(0, 256, (1, 32, 32), dtype=np.uint8)),
                data_samples=sample))
    return items
