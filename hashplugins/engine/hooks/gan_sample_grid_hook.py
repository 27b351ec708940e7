"""Save a grid of generator samples as PNG during GAN training."""
import os
import os.path as osp
from typing import Optional

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS
from torchvision.utils import save_image


def save_grid_png(images: torch.Tensor, path: str, nrow: int) -> None:
    """Write images in [-1, 1] (N, C, H, W) as one PNG grid, atomically
    (a temporary name in the same folder, then ``os.replace``)."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    tmp = f'{path}.tmp-{os.getpid()}.png'
    try:
        save_image((images.float().cpu() + 1) / 2, tmp, nrow=nrow,
                   padding=2)
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


@HOOKS.register_module()
class GANSampleGridHook(Hook):
    """Every ``interval`` training iterations (and after the last one),
    save ``<work_dir>/<out_dir>/iter_<n>.png``: a grid of
    ``num_samples`` fakes from fixed noise, so grids of different
    iterations are comparable. A class-conditional model gets labels
    ``0, 1, ..., K-1`` repeated, one class per column with ``nrow=K``.

    The model must offer ``sample(num, labels=None, noise=None)`` and
    ``noise(num, generator)`` (e.g. :class:`HashingGAN`). Only rank 0
    writes.

    Args:
        interval (int): Iterations between grids. Defaults to 1000.
        num_samples (int): Images per grid. Defaults to 64.
        nrow (int, optional): Images per grid row; defaults to the number
            of classes for a conditional model, else 8.
        out_dir (str): Folder under the work dir. Defaults to 'samples'.
        seed (int): Seed of the fixed noise. Defaults to 0.
    """

    priority = 'LOW'

    def __init__(self,
                 interval: int = 1000,
                 num_samples: int = 64,
                 nrow: Optional[int] = None,
                 out_dir: str = 'samples',
                 seed: int = 0):
        if interval < 1 or num_samples < 1:
            raise ValueError('GANSampleGridHook: interval and num_samples '
                             'must be >= 1')
        self.interval = interval
        self.num_samples = num_samples
        self.nrow = nrow
        self.out_dir = out_dir
        self.seed = seed
        self.saved = []

    @staticmethod
    def _model(runner):
        model = runner.model
        return model.module if is_model_wrapper(model) else model

    def save_samples(self, runner, name: str) -> Optional[str]:
        """Save one grid as ``<name>.png``; returns its path (rank 0)."""
        if runner.rank != 0:
            return None
        model = self._model(runner)
        # A host generator: the fixed noise is the same on every device
        # (the model draws on the generator's device and moves the noise).
        rng = torch.Generator().manual_seed(self.seed)
        noise = model.noise(self.num_samples, rng)
        labels, nrow = None, self.nrow or 8
        if getattr(model, 'num_classes', None):
            labels = torch.arange(self.num_samples,
                                  device=noise.device) % model.num_classes
            nrow = self.nrow or model.num_classes
        images = model.sample(self.num_samples, labels=labels, noise=noise)
        path = osp.join(runner.work_dir, self.out_dir, f'{name}.png')
        save_grid_png(images, path, nrow)
        self.saved.append(path)
        return path

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        if self.every_n_train_iters(runner, self.interval):
            self.save_samples(runner, f'iter_{runner.iter + 1}')

    def after_train(self, runner) -> None:
        name = f'iter_{runner.iter}'
        if not self.saved or not self.saved[-1].endswith(f'{name}.png'):
            self.save_samples(runner, name)
