"""Fixtures for the dataset tests: isolated caches and tiny synthetic data.

Tiny data keeps these tests fast and lets every error path be hit on
purpose; tests on the real shared copies use the ``shared_data`` fixture
of ``tests/conftest.py`` and skip cleanly without it.
"""
import gc
import os
import os.path as osp
import struct

import cv2
import numpy as np
import pytest


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    """A fresh ``$HASHPLUGINS_CACHE`` for one test."""
    path = tmp_path / 'cache'
    monkeypatch.setenv('HASHPLUGINS_CACHE', str(path))
    return path


def write_image_tree(root, counts, size=8, ext='.jpg'):
    """Write ``<root>/<class>/img_XXX<ext>``; class c gets counts[c] images.

    Pixel values encode class and index so tests can tell images apart.
    """
    for c_idx, (cls, n) in enumerate(counts.items()):
        folder = osp.join(root, cls)
        os.makedirs(folder, exist_ok=True)
        for i in range(n):
            img = np.full((size, size, 3), (c_idx * 40 + i) % 256, np.uint8)
            cv2.imwrite(osp.join(folder, f'img_{i:03d}{ext}'), img)
    return str(root)


@pytest.fixture
def image_tree(tmp_path):
    """Factory: ``image_tree(counts, subdir='tree')`` -> root path."""

    def make(counts, subdir='tree', **kwargs):
        return write_image_tree(tmp_path / subdir, counts, **kwargs)

    return make


def write_idx(path, array):
    """Write a uint8 array in MNIST's idx format (not compressed)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 8, array.ndim]) + struct.pack(
        f'>{array.ndim}I', *array.shape)
    with open(path, 'wb') as f:
        f.write(header + array.tobytes())


@pytest.fixture
def idx_writer():
    """The :func:`write_idx` helper (test folders are not packages)."""
    return write_idx


@pytest.fixture(scope='session', autouse=True)
def _freeze_import_time_objects():
    """Make mmengine's per-dataset ``gc.collect()`` cheap.

    ``BaseDataset.full_init`` calls ``gc.collect()``, which walks every
    object torch and mmpretrain created at import (~0.4 s per dataset on
    this machine). Freezing those long-lived objects moves them out of the
    collector's sight; collections of the test's own garbage still run.
    """
    gc.freeze()
    yield
    gc.unfreeze()
