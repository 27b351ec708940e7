"""Fakes drawn on the fly from a frozen generator checkpoint."""
import copy
from typing import Optional, Sequence

import numpy as np
import torch
from mmengine.dataset import Compose
from mmpretrain.registry import DATASETS, MODELS, TRANSFORMS

from ..models.gans.gan_utils import sample_noise
from .fake_image_bank import to_uint8_images


def load_generator(generator: dict, checkpoint: Optional[str],
                   prefix: str = 'generator.') -> torch.nn.Module:
    """Build a generator and load its weights from a (HashingGAN)
    checkpoint's ``state_dict`` entries under ``prefix``, with
    ``weights_only=True``; frozen and in eval mode."""
    model = MODELS.build(generator)
    if checkpoint is not None:
        state = torch.load(checkpoint, map_location='cpu', weights_only=True)
        state = state.get('state_dict', state)
        own = {k[len(prefix):]: v for k, v in state.items()
               if k.startswith(prefix)}
        if not own:
            raise KeyError(f'{checkpoint}: no weights under the prefix '
                           f'{prefix!r}; set generator_prefix (a HashingGAN '
                           "checkpoint uses 'generator.')")
        model.load_state_dict(own, strict=True)
    model.eval()
    for param in model.parameters():
        param.requires_grad_(False)
    return model


@DATASETS.register_module()
class GeneratedFakeDataset:
    """``num_samples`` fakes of a frozen generator, made when indexed.

    Sample ``i`` is ``G(z_i, y_i)`` with ``z_i`` drawn from a generator
    seeded by ``(seed, i)`` and ``y_i = i mod K`` (conditional), so every
    index gives the same image in any worker, process or run; a large
    ``num_samples`` gives (practically) fresh fakes every time. Images
    enter the pipeline as in-memory uint8 BGR (as ``LoadImageFromFile``
    gives), so do not start the pipeline with ``LoadImageFromFile``.
    Data info keys as :class:`FakeImageBank`: empty ``gt_label``,
    ``is_fake``, ``cond_label`` where conditional.

    Args:
        generator (dict): Generator config (as in the stage-1 config).
        checkpoint (str, optional): Stage-1 checkpoint; None keeps the
            initial weights (tests only).
        num_samples (int): Length of the dataset. Defaults to 100000.
        noise_dist (str): ``'normal'`` or ``'uniform'``; must be stage 1's.
        seed (int): Defaults to 0.
        generator_prefix (str): Key prefix of the generator in the
            checkpoint. Defaults to 'generator.'.
        pipeline (Sequence): Data pipeline.
        lazy_init (bool): Accepted for mmengine's dataset interface.
    """

    def __init__(self,
                 generator: dict,
                 checkpoint: Optional[str] = None,
                 num_samples: int = 100000,
                 noise_dist: str = 'normal',
                 seed: int = 0,
                 generator_prefix: str = 'generator.',
                 pipeline: Sequence = (),
                 lazy_init: bool = False):
        if num_samples < 1:
            raise ValueError('GeneratedFakeDataset: num_samples must be >= 1')
        self.generator = load_generator(generator, checkpoint,
                                        generator_prefix)
        self.noise_size = self.generator.noise_size
        self.num_classes = getattr(self.generator, 'num_classes', None)
        self.num_samples = int(num_samples)
        self.noise_dist = noise_dist
        self.seed = int(seed)
        # mmpretrain's registry: mmengine's Compose would look transforms
        # up in mmengine's root registry only.
        self.pipeline = Compose([
            TRANSFORMS.build(t) if isinstance(t, dict) else t
            for t in pipeline
        ])

    @property
    def metainfo(self) -> dict:
        return dict(num_classes=self.num_classes)

    def full_init(self) -> None:
        """Nothing to load: samples are generated when indexed."""

    def __len__(self) -> int:
        return self.num_samples

    @torch.no_grad()
    def get_data_info(self, idx: int) -> dict:
        """Generate sample ``idx``; see the class docstring."""
        if not -self.num_samples <= idx < self.num_samples:
            raise IndexError(f'GeneratedFakeDataset index {idx} out of range '
                             f'for {self.num_samples} samples')
        idx %= self.num_samples
        rng = torch.Generator().manual_seed(self.seed * 1000003 + idx)
        noise = sample_noise(1, self.noise_size, self.noise_dist,
                             generator=rng)
        info = dict(gt_label=np.zeros(0, dtype=np.int64), is_fake=True,
                    sample_idx=idx)
        labels = None
        if self.num_classes is not None:
            info['cond_label'] = idx % self.num_classes
            labels = torch.tensor([info['cond_label']])
        img = to_uint8_images(self.generator(noise, labels))[0]
        # RGB -> BGR, the channel order image loaders give the pipeline
        img = np.ascontiguousarray(img[..., ::-1]) if img.shape[-1] == 3 \
            else img[..., 0]
        info.update(img=img, img_shape=img.shape[:2],
                    ori_shape=img.shape[:2])
        return info

    def __getitem__(self, idx: int) -> dict:
        return self.pipeline(copy.deepcopy(self.get_data_info(idx)))
