"""Validation sets cut from the training split (knobs are tuned on them,
never on the protocol's queries)."""
import os.path as osp

import numpy as np
import pytest
from mmpretrain.registry import DATASETS

from hashplugins.datasets import MNISTHashing
from hashplugins.datasets.splits import carve_validation

from test_digits import _toy_mnist


def test_carve_validation_per_class_disjoint_seeded():
    labels = np.arange(100) % 4
    train = np.arange(3, 83)  # 20 per class
    fit, val = carve_validation(train, labels, 5, seed=1)
    assert len(val) == 20 and len(fit) == 60
    assert set(fit) | set(val) == set(train) and not set(fit) & set(val)
    assert np.bincount(labels[val]).tolist() == [5] * 4
    # fit keeps the training split's order
    assert (np.diff([list(train).index(i) for i in fit]) > 0).all()
    again = carve_validation(train, labels, 5, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip((fit, val), again))
    other = carve_validation(train, labels, 5, seed=2)[1]
    assert set(other) != set(val)
    with pytest.raises(ValueError, match='class 0 has 20 training images'):
        carve_validation(train, labels, 20)
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match='num_per_class must be'):
            carve_validation(train, labels, bad)


def test_dataset_val_split(tmp_path, tmp_cache, idx_writer):
    root = _toy_mnist(tmp_path / 'mnist', idx_writer, n_train=60, n_test=20)
    protocol = dict(kind='per_class', num_query_per_class=1,
                    num_train_per_class=4, database='rest')
    val_cfg = dict(num_per_class=1, seed=3)

    def pool_indices(**kw):
        ds = MNISTHashing(root, protocol=protocol, **kw)
        return [ds.get_data_info(i)['pool_index'] for i in range(len(ds))]

    train = pool_indices(split='train')
    fit = pool_indices(split='train', validation=val_cfg)
    val = pool_indices(split='val', validation=val_cfg)
    assert len(train) == 40 and len(fit) == 30 and len(val) == 10
    assert sorted(fit + val) == sorted(train)
    # queries and database are not touched by the validation cut
    assert pool_indices(split='query', validation=val_cfg) == pool_indices(
        split='query')
    assert 'Validation' in repr(
        MNISTHashing(root, protocol=protocol, split='val',
                     validation=val_cfg))
    with pytest.raises(ValueError, match="split='val' needs validation"):
        MNISTHashing(root, protocol=protocol, split='val')
    with pytest.raises(ValueError, match='num_per_class'):
        MNISTHashing(root, protocol=protocol, validation=dict(seed=0))
    with pytest.raises(ValueError, match='num_per_class'):
        MNISTHashing(root, protocol=protocol,
                     validation=dict(num_per_class=1, sed=0))
    with pytest.raises(ValueError, match="split='all'"):
        MNISTHashing(root, split='all', validation=val_cfg)


def test_validation_config_builds_on_shared_mnist(shared_data, tmp_cache):
    """The DADH validation config: 'val' queries retrieve from the 'train'
    images it trains on; the test loader keeps the protocol's split."""
    from mmengine.config import Config
    cfg = Config.fromfile('configs/dadh/dadh_lenet5_mnist-val_16bit.py')
    root = osp.join(shared_data, 'mnist')
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        ds = cfg[loader]['dataset']
        for part in (ds, ds.get('query', {}), ds.get('database', {})):
            if 'data_root' in part:
                part['data_root'] = root
    train = DATASETS.build(cfg.train_dataloader.dataset)
    val = DATASETS.build(cfg.val_dataloader.dataset)
    test = DATASETS.build(cfg.test_dataloader.dataset)
    ids = lambda ds: {ds.get_data_info(i)['pool_index']  # noqa: E731
                      for i in range(len(ds))}
    assert len(train) == 4500 and len(val.query) == 500
    assert ids(val.database) == ids(train)
    assert not ids(val.query) & ids(train)
    assert len(test.query) == 1000 and len(test.database) == 64000
    assert not ids(val.query) & ids(test.query)


def test_two_idx_sets_through_mnist_hashing_keep_their_splits(
        tmp_path, tmp_cache, idx_writer):
    """A second digit set read through MNISTHashing (same idx format,
    another pool) used to write into the same cached split folder, and the
    next run on the first set then failed its checksum. The cache is keyed
    by the pool's content: both sets load, again and again."""
    first = _toy_mnist(tmp_path / 'a', idx_writer, n_train=60, n_test=20)
    second = str(tmp_path / 'b')
    (tmp_path / 'b').mkdir()
    rng = np.random.RandomState(1)
    for prefix, n in (('train', 50), ('t10k', 30)):
        idx_writer(tmp_path / 'b' / f'{prefix}-images-idx3-ubyte',
                   rng.randint(0, 256, (n, 28, 28)))
        idx_writer(tmp_path / 'b' / f'{prefix}-labels-idx1-ubyte',
                   rng.permutation(np.arange(n) % 10))
    protocol = dict(kind='per_class', num_query_per_class=1,
                    num_train_per_class=4, database='rest')

    def query(root):
        ds = MNISTHashing(root, protocol=protocol, split='query')
        return [ds.get_data_info(i)['pool_index'] for i in range(len(ds))]

    a = query(first)
    b = query(second)
    assert query(first) == a and query(second) == b
    folders = list((tmp_cache / 'splits' / 'mnist').iterdir())
    assert len(folders) == 2
