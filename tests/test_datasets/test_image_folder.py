"""Image-folder domains: scanning, protocol splits, errors, real PACS."""
import os
import tarfile

import pytest
from mmpretrain.registry import DATASETS

from hashplugins.datasets import ImageFolderDomain, PACSDomain

TOY = dict(num_query_per_class=2, num_train_per_class=3, database='rest')


def test_pool_order_splits_and_domain_tag(image_tree, tmp_cache):
    root = os.path.dirname(image_tree({'b': 7, 'a': 6}, subdir='data/d1'))
    whole = ImageFolderDomain(root, domain='d1', split='all', domain_id=1)
    assert whole.metainfo['classes'] == ('a', 'b')
    paths = [whole.get_data_info(i)['img_path'] for i in range(len(whole))]
    assert paths == sorted(paths) and len(paths) == 13
    assert whole.get_data_info(0)['domain'] == 1
    assert [whole.get_data_info(i)['gt_label'] for i in (0, 12)] == [0, 1]
    parts = {
        s: ImageFolderDomain(root, domain='d1', split=s, protocol=TOY)
        for s in ('query', 'train', 'database')
    }
    idx = {
        s: {d.get_data_info(i)['pool_index']
            for i in range(len(d))}
        for s, d in parts.items()
    }
    assert [len(idx[s]) for s in ('query', 'train', 'database')] == [4, 6, 3]
    assert not idx['query'] & idx['database']
    assert not idx['train'] & idx['database']
    assert 'domain' not in parts['query'].get_data_info(0)
    assert (tmp_cache / 'splits' / 'data-d1').is_dir()


def test_class_subset_and_archive_root(image_tree, tmp_path, tmp_cache):
    root = image_tree({'a': 3, 'b': 3, 'c': 3}, subdir='pack/dom')
    ds = ImageFolderDomain(root, classes=['c', 'a'], split='all')
    assert ds.metainfo['classes'] == ('c', 'a')
    assert ds.get_data_info(0)['gt_label'] == 0
    assert '/c/' in ds.get_data_info(0)['img_path']
    archive = tmp_path / 'pack.tar.gz'
    with tarfile.open(archive, 'w:gz') as tar:
        tar.add(tmp_path / 'pack', arcname='pack')
    ds = ImageFolderDomain(str(archive), domain='dom', split='all')
    assert len(ds) == 9
    assert ds.get_data_info(0)['img_path'].startswith(str(tmp_cache))


def test_folder_errors(image_tree, tmp_path, tmp_cache):
    root = image_tree({'a': 6, 'b': 6}, subdir='data/dom')
    data = os.path.dirname(root)
    with pytest.raises(FileNotFoundError, match="domain='nope'.*'dom'"):
        ImageFolderDomain(data, domain='nope', split='all')
    with pytest.raises(FileNotFoundError, match='data_root=.*missing'):
        ImageFolderDomain(str(tmp_path / 'missing'), split='all')
    with pytest.raises(FileNotFoundError, match=r"class\(es\) \['z'\]"):
        ImageFolderDomain(root, classes=['a', 'z'], split='all')
    with pytest.raises(ValueError, match='class 0 has 6 images.*120'):
        ImageFolderDomain(root, split='query', protocol='a')
    (tmp_path / 'data' / 'dom' / 'a' / 'notes.txt').write_text('x')
    with pytest.raises(ValueError, match="without an image suffix.*'a'"):
        ImageFolderDomain(root, split='all')
    os.remove(tmp_path / 'data' / 'dom' / 'a' / 'notes.txt')
    os.makedirs(tmp_path / 'data' / 'dom' / 'empty')
    with pytest.raises(ValueError, match='empty holds no images'):
        ImageFolderDomain(root, split='all')


def test_changed_folder_invalidates_cached_split(image_tree, tmp_cache):
    root = image_tree({'a': 6, 'b': 6}, subdir='data/dom')
    ImageFolderDomain(root, split='query', protocol=TOY)
    os.rename(f'{root}/b/img_005.jpg', f'{root}/b/img_999.jpg')
    with pytest.raises(ValueError, match='records items_sha1.*delete'):
        ImageFolderDomain(root, split='query', protocol=TOY)


def test_pacs_domain_checks(image_tree, tmp_cache):
    root = os.path.dirname(image_tree({'dog': 2}, subdir='pacs/photo'))
    with pytest.raises(ValueError, match="domain='clipart'"):
        PACSDomain(root, domain='clipart')
    with pytest.raises(ValueError, match=r"class folders \('dog',\)"):
        PACSDomain(root, domain='photo', split='all')


def test_real_pacs(shared_data, tmp_path):
    root = os.path.join(shared_data, 'pacs')  # holds pacs_128.tar.gz only
    pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='PackHashInputs', num_classes=7)
    ]
    sizes = {}
    for split in ('query', 'train', 'database'):
        ds = DATASETS.build(
            dict(
                type='PACSDomain',
                data_root=root,
                domain='photo',
                split=split,
                split_dir=str(tmp_path / 'photo'),
                domain_id=0,
                pipeline=pipeline))
        sizes[split] = len(ds)
    assert sizes == dict(query=140, train=700, database=1530)
    out = ds[0]
    assert tuple(out['inputs'].shape) == (3, 128, 128)
    s = out['data_samples']
    assert s.domain == 0 and s.gt_score.sum() == 1
    assert int(s.gt_label) == ds.get_data_info(0)['gt_label']
    whole = PACSDomain(root, domain='cartoon', split='all')
    assert len(whole) == 2344
    assert len(PACSDomain(root, domain='art_painting', split='all')) == 2048
