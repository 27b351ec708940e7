"""CIFAR-10: pickles and image folders, official order, the three
protocols on the real data."""
import os
import os.path as osp
import pickle

import numpy as np
import pytest
from mmpretrain.registry import DATASETS

from hashplugins.datasets import CIFAR10Hashing
from hashplugins.datasets.cifar10 import read_cifar_batch
from hashplugins.datasets.protocols import STANDARD_PROTOCOLS
from hashplugins.datasets.splits import load_or_create_split

CLASSES = ('airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog',
           'horse', 'ship', 'truck')
TOY = dict(num_query_per_class=1, num_train_per_class=2, database='rest')


def _labels(n, offset):
    return [(offset + i) % 10 for i in range(n)]


def write_pickles(folder, per_batch=10):
    """Official-format batches; image k of batch b has red value b*20+k."""
    os.makedirs(folder, exist_ok=True)
    names = [f'data_batch_{i}' for i in range(1, 6)] + ['test_batch']
    labels = []
    for b, name in enumerate(names):
        data = np.zeros((per_batch, 3072), np.uint8)
        data[:, :1024] = (b * 20 + np.arange(per_batch))[:, None]  # R plane
        ys = _labels(per_batch, b * per_batch)
        labels += ys
        with open(osp.join(folder, name), 'wb') as f:
            pickle.dump({
                b'data': data,
                b'labels': ys,
                b'batch_label': b'x'
            },
                        f,
                        protocol=2)
    return np.array(labels)


def test_pickles_in_memory_bgr(tmp_path, tmp_cache):
    labels = write_pickles(tmp_path / 'cifar-10-batches-py')
    ds = CIFAR10Hashing(str(tmp_path), split='all')
    assert len(ds) == 60 and ds.IN_MEMORY
    info = ds.get_data_info(11)
    assert 'img_path' not in info and info['img'].shape == (32, 32, 3)
    # Red plane value 21 (batch 1, image 1) lands in channel 2 (BGR).
    assert info['img'][0, 0].tolist() == [0, 0, 21]
    assert info['gt_label'] == labels[11]
    query = CIFAR10Hashing(str(tmp_path), split='query', protocol=TOY)
    assert len(query) == 10
    c = CIFAR10Hashing(str(tmp_path), split='query', protocol='cifar10-2')
    assert [c.get_data_info(i)['pool_index']
            for i in range(10)] == list(range(50, 60))
    # A plain loader would make the same uint8 BGR arrays: it is skipped,
    # so one config reads the pickles and the JPEG copy (#17); a loader
    # with arguments would change them and is refused.
    plain = CIFAR10Hashing(
        str(tmp_path), split='all', pipeline=[dict(type='LoadImageFromFile')])
    assert plain[11]['img'].tolist() == info['img'].tolist()
    import cv2
    from mmcv.transforms import LoadImageFromFile
    cv2.imwrite(str(tmp_path / 'x.png'), info['img'])  # lossless
    loaded = LoadImageFromFile()(dict(img_path=str(tmp_path / 'x.png')))
    assert loaded['img'].dtype == info['img'].dtype
    assert np.array_equal(loaded['img'], info['img'])
    assert (loaded['img_shape'], loaded['ori_shape']) == (info['img_shape'],
                                                          info['ori_shape'])
    with pytest.raises(ValueError, match='remove LoadImageFromFile'):
        CIFAR10Hashing(
            str(tmp_path),
            split='all',
            pipeline=[dict(type='LoadImageFromFile', to_float32=True)])


def test_unsafe_or_malformed_pickles(tmp_path):
    path = tmp_path / 'data_batch_1'

    class Evil:

        def __reduce__(self):
            return (os.system, ('echo pwned', ))

    path.write_bytes(pickle.dumps({b'data': Evil()}))
    with pytest.raises(ValueError, match='refusing to load global'):
        read_cifar_batch(str(path))
    path.write_bytes(
        pickle.dumps({
            b'data': np.zeros((2, 5), np.uint8),
            b'labels': [0, 1]
        }))
    with pytest.raises(ValueError, match=r'\(N, 3072\) uint8'):
        read_cifar_batch(str(path))
    path.write_bytes(
        pickle.dumps({
            b'data': np.zeros((2, 3072), np.uint8),
            b'labels': [0, 10]
        }))
    with pytest.raises(ValueError, match='2 ints in 0..9'):
        read_cifar_batch(str(path))


def write_image_copy(root, labels, cv2_size=32):
    """train/ and test/ class folders + official_order.npz from labels."""
    import cv2
    jpg = {'train': [], 'test': []}
    counters = {}
    for row, y in enumerate(labels):
        part = 'train' if row < 50 else 'test'
        k = counters.setdefault((part, y), 0)
        counters[(part, y)] += 1
        rel = f'{part}/{CLASSES[y]}/{k:04d}.jpg'
        os.makedirs(osp.join(root, osp.dirname(rel)), exist_ok=True)
        cv2.imwrite(osp.join(root, rel), np.zeros((8, 8, 3), np.uint8))
        jpg[part].append(rel)
    np.savez(
        osp.join(root, 'official_order.npz'),
        y_train=np.array(labels[:50], np.uint8),
        y_test=np.array(labels[50:], np.uint8),
        jpg_train=np.array(jpg['train']),
        jpg_test=np.array(jpg['test']),
        classes=np.array(CLASSES))
    return jpg


def test_image_folder_follows_official_order(tmp_path, tmp_cache):
    labels = write_pickles(tmp_path / 'py')
    jpg = write_image_copy(str(tmp_path / 'img'), labels.tolist())
    ds = CIFAR10Hashing(str(tmp_path / 'img'), split='all')
    assert not ds.IN_MEMORY
    paths = [ds.get_data_info(i)['img_path'] for i in range(len(ds))]
    assert [osp.relpath(p, tmp_path / 'img') for p in paths] == (
        jpg['train'] + jpg['test'])
    # Same order and labels as the pickles -> the very same split.
    q_img = CIFAR10Hashing(str(tmp_path / 'img'), split='query', protocol=TOY)
    q_py = CIFAR10Hashing(str(tmp_path / 'py'), split='query', protocol=TOY)
    assert [q_img.get_data_info(i)['pool_index'] for i in range(10)
            ] == [q_py.get_data_info(i)['pool_index'] for i in range(10)]


def test_image_folder_without_or_with_bad_order(tmp_path, tmp_cache):
    labels = _labels(60, 0)
    root = str(tmp_path / 'img')
    write_image_copy(root, labels)
    os.remove(osp.join(root, 'official_order.npz'))
    ds = CIFAR10Hashing(root, split='all')
    paths = [ds.get_data_info(i)['img_path'] for i in range(50)]
    assert paths == sorted(paths)
    assert (tmp_cache / 'splits').exists() is False  # 'all' draws nothing
    CIFAR10Hashing(root, split='query', protocol=TOY)
    assert (tmp_cache / 'splits' / 'cifar10_sorted').is_dir()

    write_image_copy(root, labels)
    z = dict(np.load(osp.join(root, 'official_order.npz')))
    bad_y = z['y_train'].copy()
    bad_y[3] = (bad_y[3] + 1) % 10
    np.savez(osp.join(root, 'official_order.npz'), **dict(z, y_train=bad_y))
    with pytest.raises(ValueError, match=r'y_train\[3\]=.*disagrees'):
        CIFAR10Hashing(root, split='all')
    os.remove(osp.join(root, 'train', CLASSES[0], '0000.jpg'))
    np.savez(osp.join(root, 'official_order.npz'), **z)
    with pytest.raises(ValueError, match='listed but missing'):
        CIFAR10Hashing(root, split='all')


def test_missing_or_unknown_roots(tmp_path):
    with pytest.raises(FileNotFoundError, match='does not exist'):
        CIFAR10Hashing(str(tmp_path / 'nope'))
    (tmp_path / 'other').mkdir()
    (tmp_path / 'other' / 'x').mkdir()
    with pytest.raises(FileNotFoundError, match='holds no CIFAR-10 copy'):
        CIFAR10Hashing(str(tmp_path / 'other'))


@pytest.fixture(scope='module')
def real_pool(shared_data):
    root = osp.join(shared_data, 'cifar10')
    ds = CIFAR10Hashing(root, split='all', lazy_init=True)
    return root, ds.load_pool()


def test_real_pool_is_official_order(real_pool, shared_data):
    _, pool = real_pool
    z = np.load(osp.join(shared_data, 'cifar10', 'official_order.npz'))
    assert pool.name == 'cifar10' and len(pool.labels) == 60000
    np.testing.assert_array_equal(pool.labels, np.r_[z['y_train'],
                                                     z['y_test']])
    assert pool.img_paths[50000].endswith(str(z['jpg_test'][0]))


@pytest.mark.parametrize('name, sizes', [
    ('a', (1000, 5000, 54000)),
    ('b', (1000, 5000, 59000)),
    ('c', (10000, 50000, 50000)),
])
def test_real_protocols(real_pool, tmp_path, name, sizes):
    _, pool = real_pool
    split = load_or_create_split(
        str(tmp_path / name),
        pool.name,
        pool.labels,
        STANDARD_PROTOCOLS[name],
        seed=0,
        partitions=pool.partitions)
    q, t, db = (set(split[k].tolist()) for k in ('query', 'train', 'database'))
    assert (len(q), len(t), len(db)) == sizes
    assert not q & db
    if name == 'a':
        assert not t & db and len(q | t | db) == 60000
        assert np.bincount(pool.labels[split['query']]).tolist() == [100] * 10
        assert np.bincount(pool.labels[split['train']]).tolist() == [500] * 10
    elif name == 'b':
        assert t <= db and len(q | db) == 60000
    else:
        assert q == set(range(50000, 60000)) and t == db


def test_real_samples_through_pipeline(real_pool, tmp_path):
    root, pool = real_pool
    ds = DATASETS.build(
        dict(
            type='CIFAR10Hashing',
            data_root=root,
            split='query',
            split_dir=str(tmp_path / 'a'),
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='PackHashInputs', num_classes=10)
            ]))
    assert len(ds) == 1000
    for i in (0, 999):
        out = ds[i]
        s = out['data_samples']
        assert tuple(out['inputs'].shape) == (3, 32, 32)
        assert int(
            s.gt_label) == pool.labels[ds.get_data_info(i)['pool_index']]
        assert s.gt_score.sum() == 1 and s.sample_idx == i
