"""Missing data ends in one short message: the key and path, the expected
layout and how to get the data; the preflight check names the dotted
config key before the Runner is built. Also the USPS converter."""
import bz2
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config

from hashplugins.datasets import (CIFAR10Hashing, DataNotFoundError,
                                  HashingListDataset, ImageFolderDomain,
                                  MNISTHashing, PACSDomain, USPSHashing,
                                  check_data_roots)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _check_message(err, *needles):
    text = str(err.value)
    lines = text.splitlines()
    assert 2 <= len(lines) <= 4, text
    assert lines[1].startswith('  expected: ')
    assert lines[-1].startswith('  to get it: ')
    assert 'docs/datasets.md' in text or 'http' in text
    for needle in needles:
        assert needle in text, (needle, text)
    return text


@pytest.mark.parametrize('build, needles', [
    (lambda r: CIFAR10Hashing(r, split='all'), [
        'CIFAR10Hashing: data_root=', 'does not exist',
        'the data_root of the dataset config', 'cifar-10-batches-py',
        'download_cifar10.py'
    ]),
    (lambda r: MNISTHashing(r, split='all'), [
        'MNISTHashing: data_root=', '-images-idx3-ubyte',
        'yann.lecun.com/exdb/mnist'
    ]),
    (lambda r: USPSHashing(r, split='all'),
     ['USPSHashing: data_root=', 'usps.npz', 'usps_to_npz.py']),
    (lambda r: PACSDomain(r, split='all'),
     ['PACSDomain: data_root=', 'art_painting', '"PACS"']),
    (lambda r: ImageFolderDomain(r, split='all'),
     ['ImageFolderDomain: data_root=', '<domain>/<class>']),
    (lambda r: HashingListDataset(
        ann_file='train.txt', num_classes=21, data_root=r), [
            'HashingListDataset: data_root=', 'the folder the list paths',
            '"NUS-WIDE"'
        ]),
])
def test_missing_data_root_messages(tmp_path, tmp_cache, build, needles):
    missing = str(tmp_path / 'nowhere')
    with pytest.raises(DataNotFoundError) as err:
        build(missing)
    assert isinstance(err.value, FileNotFoundError)  # callers catching it
    _check_message(err, missing, *needles)


def test_present_but_incomplete_data(tmp_path, tmp_cache):
    (tmp_path / 'empty').mkdir()
    with pytest.raises(DataNotFoundError) as err:
        CIFAR10Hashing(str(tmp_path / 'empty'), split='all')
    text = _check_message(err, 'holds no CIFAR-10 copy')
    # The command names the real folder, ready to paste.
    assert f'download_cifar10.py {tmp_path / "empty"}' in text
    with pytest.raises(DataNotFoundError) as err:
        MNISTHashing(str(tmp_path / 'empty'), split='all')
    _check_message(err, 'has no train-images-idx3-ubyte')
    with pytest.raises(DataNotFoundError) as err:
        HashingListDataset(
            ann_file='lists/train.txt',
            num_classes=21,
            data_root=str(tmp_path / 'empty'))
    _check_message(err, 'ann_file=', 'lists/train.txt',
                   'relative to data_root')
    (tmp_path / 'pacs' / 'photo').mkdir(parents=True)
    with pytest.raises(DataNotFoundError) as err:
        PACSDomain(str(tmp_path / 'pacs'), domain='cartoon', split='all')
    _check_message(err, "domain='cartoon'", "['photo']")


def _cfg(tmp_path, train_root, val_root, **train_extra):
    return dict(
        train_dataloader=dict(
            dataset=dict(
                type='CIFAR10Hashing', data_root=train_root, **train_extra)),
        val_dataloader=dict(
            dataset=dict(
                type='QueryDatabaseDataset',
                query=dict(type='CIFAR10Hashing', data_root=val_root),
                database=dict(type='CIFAR10Hashing', data_root=val_root))),
        test_dataloader=None)


def test_preflight_names_the_config_key(tmp_path):
    (tmp_path / 'here').mkdir()
    here, gone = str(tmp_path / 'here'), str(tmp_path / 'gone')
    check_data_roots(_cfg(tmp_path, here, here))  # present: passes
    with pytest.raises(DataNotFoundError) as err:
        check_data_roots(_cfg(tmp_path, gone, gone))
    text = _check_message(
        err, f'train_dataloader.dataset.data_root={gone} '
        'does not exist (CIFAR10Hashing)')
    assert f'download_cifar10.py {gone}' in text
    with pytest.raises(
            DataNotFoundError,
            match=r'val_dataloader\.dataset\.query\.data_root='):
        check_data_roots(_cfg(tmp_path, here, gone))
    # Only the loaders asked for are checked (train.py: train and val).
    check_data_roots(_cfg(tmp_path, here, gone), ('train_dataloader', ))
    # download=True: building the dataset fetches it, for every dataset of
    # the config that shares the root.
    check_data_roots(_cfg(tmp_path, gone, gone, download=True))


def test_preflight_list_files_and_unknown_types(tmp_path):
    (tmp_path / 'nus').mkdir()
    cfg = dict(
        train_dataloader=dict(
            dataset=dict(
                type='DecodedCacheDataset',
                dataset=dict(
                    type='HashingListDataset',
                    data_root=str(tmp_path / 'nus'),
                    ann_file='train.txt',
                    num_classes=21))))
    with pytest.raises(DataNotFoundError) as err:
        check_data_roots(cfg)
    _check_message(err, 'train_dataloader.dataset.dataset.ann_file=',
                   str(tmp_path / 'nus' / 'train.txt'))
    (tmp_path / 'nus' / 'train.txt').write_text('a.jpg ' + '1 ' * 21)
    check_data_roots(cfg)
    # Types without a DATA_LAYOUT (a fake-image bank made by stage 1) and
    # unknown types are left to the dataset itself.
    check_data_roots(
        dict(
            train_dataloader=dict(
                dataset=dict(
                    type='FakeImageBank', data_root=str(tmp_path / 'later')))))
    check_data_roots(
        dict(
            train_dataloader=dict(
                dataset=dict(
                    type='NoSuchDataset', data_root=str(tmp_path / 'x')))))


def test_preflight_on_the_headline_config(tmp_path):
    cfg = Config.fromfile(
        osp.join(REPO, 'configs/dpsh/dpsh_r50_cifar10_48bit.py'))
    cfg.merge_from_dict(
        {'train_dataloader.dataset.data_root': str(tmp_path / 'c10')})
    with pytest.raises(
            DataNotFoundError,
            match=r'^train_dataloader\.dataset\.data_root='):
        check_data_roots(cfg)


def _libsvm(path, rows):
    with bz2.open(path, 'wt') as f:
        for label, values in rows:
            feats = ' '.join(f'{i + 1}:{v:g}' for i, v in enumerate(values)
                             if v != 0)
            f.write(f'{label} {feats}\n')


def test_usps_converter(tmp_path):
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'usps_to_npz',
        osp.join(REPO, 'tools', 'dataset_converters', 'usps_to_npz.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    rng = np.random.RandomState(0)
    train = [(d % 10 + 1, rng.uniform(-1, 1, 256).round(4)) for d in range(30)]
    test = [(d % 10 + 1, rng.uniform(-1, 1, 256).round(4)) for d in range(10)]
    train[0][1][:5] = 0  # sparse entries are zeros
    _libsvm(tmp_path / 'usps.bz2', train)
    _libsvm(tmp_path / 'usps.t.bz2', test)
    out = tmp_path / 'usps' / 'usps.npz'
    args = [str(tmp_path / 'usps.bz2'), str(tmp_path / 'usps.t.bz2'), str(out)]
    assert tool.main(args) == 0
    with np.load(out, allow_pickle=False) as z:
        assert z['x_train'].shape == (30, 16, 16)
        np.testing.assert_allclose(
            z['x_train'][1].ravel(), (train[1][1] + 1) / 2, atol=1e-6)
        assert z['x_train'][0].ravel()[:5].tolist() == [0.5] * 5
        assert z['y_train'][:11].tolist() == [*range(10), 0]
        assert z['y_test'].dtype == np.uint8
    ds = USPSHashing(str(out.parent), split='all')
    assert len(ds) == 40 and ds.get_data_info(30)['gt_label'] == 0
    with pytest.raises(FileExistsError, match='--overwrite'):
        tool.main(args)
    (tmp_path / 'bad.txt').write_text('11 1:0.5\n')
    with pytest.raises(ValueError, match='line 1: label 11'):
        tool.main([
            str(tmp_path / 'bad.txt'),
            str(tmp_path / 'bad.txt'),
            str(tmp_path / 'x.npz')
        ])
