"""A bank of GAN-generated fake images on disk: writer and dataset.

Layout of a bank folder::

    <bank>/manifest.json    format, num_images, files, sizes, labels, ...
    <bank>/images/000000.png ...

:func:`write_fake_bank` renders every image into a temporary sibling folder
and renames it to ``<bank>`` only when all images and the manifest are
written, so a bank is either complete or absent (an interrupted run leaves
only a ``<bank>.tmp-*`` folder, which is removed on errors it sees).
:class:`FakeImageBank` reads a bank and refuses an incomplete one.

Fake images carry **no class label** (``gt_label`` is the empty set):
they must never count as labelled real data. A conditional generator's
label is kept as ``cond_label``, for methods that use it (DSH-GANs).
"""
import json
import os
import os.path as osp
import shutil
import tempfile
from typing import Callable, List, Optional, Sequence

import numpy as np
import torch
from mmpretrain.datasets import BaseDataset
from mmpretrain.registry import DATASETS
from PIL import Image

BANK_FORMAT = 'hashplugins-fake-bank-v1'
MANIFEST = 'manifest.json'


def to_uint8_images(images: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) images in [-1, 1] -> (N, H, W, C) uint8 RGB(/gray)."""
    pixels = ((images.detach().float().cpu() + 1) * 127.5).round()
    return pixels.clamp(0, 255).to(torch.uint8).permute(0, 2, 3,
                                                        1).numpy()


def balanced_labels(num: int, num_classes: Optional[int]
                    ) -> Optional[np.ndarray]:
    """``0, 1, ..., K-1, 0, 1, ...``: as many fakes of every class."""
    if num_classes is None:
        return None
    return np.arange(num, dtype=np.int64) % num_classes


def write_fake_bank(sample_fn: Callable[[int, Optional[torch.Tensor],
                                         torch.Generator], torch.Tensor],
                    out_dir: str,
                    num_images: int,
                    num_classes: Optional[int] = None,
                    batch_size: int = 256,
                    seed: int = 0,
                    overwrite: bool = False,
                    extra_meta: Optional[dict] = None) -> str:
    """Write ``num_images`` fakes as PNG plus a manifest, atomically.

    Args:
        sample_fn (callable): ``sample_fn(num, labels, rng)`` returns
            (num, C, H, W) images in [-1, 1], e.g.
            ``lambda n, y, g: gan.sample(n, labels=y, generator=g)``.
        out_dir (str): The bank folder (must not exist unless
            ``overwrite``).
        num_images (int): How many images.
        num_classes (int, optional): Conditional generation: labels are
            balanced (:func:`balanced_labels`) and stored in the manifest.
        batch_size (int): Images per generator call. Defaults to 256.
        seed (int): Seed of the noise (and labels). Defaults to 0.
        overwrite (bool): Replace an existing bank. Defaults to False.
        extra_meta (dict, optional): JSON-able provenance (config,
            checkpoint) stored in the manifest.

    Returns:
        str: ``out_dir``.
    """
    if num_images < 1:
        raise ValueError(f'write_fake_bank: num_images must be >= 1, got '
                         f'{num_images}')
    out_dir = osp.abspath(out_dir)
    if osp.exists(out_dir) and not overwrite:
        raise FileExistsError(
            f'write_fake_bank: {out_dir} exists; pass overwrite=True (tool: '
            '--overwrite) to replace it')
    parent = osp.dirname(out_dir)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=osp.basename(out_dir) + '.tmp-', dir=parent)
    try:
        os.makedirs(osp.join(tmp, 'images'))
        labels = balanced_labels(num_images, num_classes)
        rng = torch.Generator().manual_seed(seed)
        files, sizes, shape = [], [], None
        for start in range(0, num_images, batch_size):
            num = min(batch_size, num_images - start)
            batch_labels = None if labels is None else torch.from_numpy(
                labels[start:start + num])
            pixels = to_uint8_images(sample_fn(num, batch_labels, rng))
            shape = pixels.shape[1:]
            for i, img in enumerate(pixels):
                name = f'images/{start + i:06d}.png'
                path = osp.join(tmp, name)
                Image.fromarray(img[..., 0] if img.shape[-1] == 1 else img
                                ).save(path)
                files.append(name)
                sizes.append(osp.getsize(path))
        manifest = dict(
            format=BANK_FORMAT,
            num_images=num_images,
            image_shape=list(shape),
            num_classes=num_classes,
            labels=None if labels is None else labels.tolist(),
            files=files,
            sizes=sizes,
            seed=seed,
            meta=extra_meta or {})
        with open(osp.join(tmp, MANIFEST), 'w') as f:
            json.dump(manifest, f)
        if osp.exists(out_dir):  # overwrite: swap, then drop the old bank
            old = tempfile.mkdtemp(prefix=osp.basename(out_dir) + '.old-',
                                   dir=parent)
            os.rename(out_dir, osp.join(old, 'bank'))
            os.rename(tmp, out_dir)
            shutil.rmtree(old)
        else:
            os.rename(tmp, out_dir)
    finally:
        if osp.exists(tmp):
            shutil.rmtree(tmp)
    return out_dir


def read_manifest(bank_dir: str) -> dict:
    """The validated manifest of a complete bank.

    Raises:
        FileNotFoundError: If the folder or its manifest is missing.
        ValueError: If the manifest is not a bank manifest, or an image
            is missing or has another size than when it was written.
    """
    path = osp.join(bank_dir, MANIFEST)
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'FakeImageBank: no {MANIFEST} in {bank_dir!r}; write the bank '
            'with tools/gan_bank.py (a folder without a manifest is '
            'incomplete)')
    with open(path) as f:
        manifest = json.load(f)
    if manifest.get('format') != BANK_FORMAT:
        raise ValueError(f'FakeImageBank: {path} has format '
                         f"{manifest.get('format')!r}, expected "
                         f'{BANK_FORMAT!r}')
    n = manifest['num_images']
    labels = manifest.get('labels')
    if len(manifest['files']) != n or len(manifest['sizes']) != n or (
            labels is not None and len(labels) != n):
        raise ValueError(f'FakeImageBank: {path} lists a different number '
                         f'of files/sizes/labels than num_images={n}')
    for name, size in zip(manifest['files'], manifest['sizes']):
        file = osp.join(bank_dir, name)
        if not osp.isfile(file) or osp.getsize(file) != size:
            raise ValueError(
                f'FakeImageBank: {file} is missing or has changed size '
                f'(expected {size} bytes); the bank is incomplete, rewrite '
                'it')
    return manifest


@DATASETS.register_module()
class FakeImageBank(BaseDataset):
    """The images of a bank written by :func:`write_fake_bank`.

    Data info keys: ``img_path``, ``gt_label`` (always empty: fakes are
    unlabelled), ``is_fake`` (True), ``cond_label`` (conditional banks).
    Start the pipeline with ``LoadImageFromFile``.

    Args:
        data_root (str): The bank folder.
        pipeline (Sequence): Data pipeline.
        indices (int | Sequence[int], optional): Use a subset.
        **kwargs: Passed to :class:`mmpretrain.datasets.BaseDataset`.
    """

    def __init__(self, data_root: str, pipeline: Sequence = (), **kwargs):
        super().__init__(ann_file='', data_root=data_root,
                         pipeline=pipeline, **kwargs)

    def load_data_list(self) -> List[dict]:
        manifest = read_manifest(self.data_root)
        labels = manifest.get('labels')
        data_list = []
        for i, name in enumerate(manifest['files']):
            info = dict(img_path=osp.join(self.data_root, name),
                        gt_label=np.zeros(0, dtype=np.int64), is_fake=True)
            if labels is not None:
                info['cond_label'] = int(labels[i])
            data_list.append(info)
        return data_list
