"""List-file datasets: parsing, strict validation, loading through a
pipeline."""
import re

import pytest
from mmpretrain.registry import DATASETS

from hashplugins.datasets import HashingListDataset, parse_hashing_list


def _write(path, lines):
    path.write_text(''.join(line + '\n' for line in lines))
    return str(path)


def test_parse_valid_list(tmp_path):
    ann = _write(tmp_path / 'l.txt',
                 ['a/1.jpg 0 1 1', '', 'b/2.jpg 1 0 0', 'c/3.jpg\t0 0 1'])
    entries = parse_hashing_list(ann, 3)
    assert [e.path for e in entries] == ['a/1.jpg', 'b/2.jpg', 'c/3.jpg']
    assert [e.labels for e in entries] == [[1, 2], [0], [2]]
    assert [e.lineno for e in entries] == [1, 3, 4]  # blank line counted


@pytest.mark.parametrize('bad_line, reason', [
    ('b.jpg 0 1', 'found 2 labels, expected num_classes=3'),
    ('b.jpg 0 1 1 0', 'found 4 labels, expected num_classes=3'),
    ('b.jpg 0 2 1', "label 1 is '2'; labels must be 0 or 1"),
    ('b.jpg 0 1.0 1', "label 1 is '1.0'"),
    ('  0 1 1', 'image path is empty'),
    ('b.jpg 0 0 0', 'all labels are 0.*allow_empty_labels=True'),
    ('a.jpg 0 0 1', "path 'a.jpg' is already listed on line 1"),
])
def test_bad_lines_name_file_line_and_reason(tmp_path, bad_line, reason):
    ann = _write(tmp_path / 'list.txt', ['a.jpg 1 0 0', '', bad_line])
    with pytest.raises(ValueError) as err:
        parse_hashing_list(ann, 3)
    message = str(err.value)
    assert 'list.txt, line 3' in message
    assert 'line text:' in message
    assert re.search(reason, message), message


def test_long_lines_are_truncated_in_errors(tmp_path):
    ann = _write(tmp_path / 'l.txt', ['x' * 300 + '.jpg 1 1'])
    with pytest.raises(ValueError, match=r"\.\.\.'$") as err:
        parse_hashing_list(ann, 3)
    assert len(str(err.value)) < 300


def test_empty_labels_allowed_on_request(tmp_path):
    ann = _write(tmp_path / 'l.txt', ['a.jpg 0 0 0'])
    assert parse_hashing_list(ann, 3, allow_empty_labels=True)[0].labels == []


def test_empty_list_and_bad_width(tmp_path):
    with pytest.raises(ValueError, match='lists no images'):
        parse_hashing_list(_write(tmp_path / 'e.txt', ['', ' ']), 3)
    with pytest.raises(ValueError, match='num_classes must be a positive'):
        parse_hashing_list(_write(tmp_path / 'l.txt', ['a 1']), 0)


def test_dataset_infos_and_errors(tmp_path, image_tree):
    root = image_tree({'a': 1, 'b': 1})
    ann = _write(tmp_path / 'train.txt',
                 ['a/img_000.jpg 1 0 1 0', 'b/img_000.jpg 0 1 0 0'])
    ds = HashingListDataset(
        ann_file=ann, num_classes=4, data_root=root, domain_id=1)
    info = ds.get_data_info(1)
    assert info['img_path'] == f'{root}/b/img_000.jpg'
    assert info['gt_label'] == [1] and info['domain'] == 1
    assert info['list_line'] == 2 and info['sample_idx'] == 1
    assert ds.metainfo['classes'] == ('0', '1', '2', '3')
    assert ds.get_cat_ids(0) == [0, 2]

    with pytest.raises(FileNotFoundError, match='ann_file=.*missing.txt'):
        HashingListDataset(
            ann_file='missing.txt', num_classes=4, data_root=root)
    with pytest.raises(FileNotFoundError, match='data_root=.*nowhere'):
        HashingListDataset(
            ann_file=ann, num_classes=4, data_root=str(tmp_path / 'nowhere'))
    with pytest.raises(
            ValueError, match='found 4 labels, expected num_'
            'classes=5'):
        HashingListDataset(ann_file=ann, num_classes=5, data_root=root)
    with pytest.raises(ValueError, match='3 class names given'):
        HashingListDataset(
            ann_file=ann,
            num_classes=4,
            data_root=root,
            classes=('x', 'y', 'z'))


def test_check_files(tmp_path, image_tree):
    root = image_tree({'a': 1})
    ann = _write(tmp_path / 'l.txt', ['a/img_000.jpg 1 0', 'a/gone.jpg 0 1'])
    HashingListDataset(ann_file=ann, num_classes=2, data_root=root)
    with pytest.raises(FileNotFoundError, match='line 2: .*gone.jpg'):
        HashingListDataset(
            ann_file=ann, num_classes=2, data_root=root, check_files=True)


def test_loads_through_pipeline(tmp_path, image_tree):
    root = image_tree({'a': 2}, size=10)
    _write(tmp_path / 'tree' / 'l.txt',
           ['a/img_000.jpg 0 1 1', 'a/img_001.jpg 1 0 0'])
    ds = DATASETS.build(
        dict(
            type='HashingListDataset',
            data_root=root,
            ann_file='l.txt',  # relative to data_root
            num_classes=3,
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='PackHashInputs', num_classes=3)
            ]))
    out = ds[0]
    assert tuple(out['inputs'].shape) == (3, 10, 10)
    sample = out['data_samples']
    assert sample.gt_label.tolist() == [1, 2]
    assert sample.gt_score.tolist() == [0.0, 1.0, 1.0]
    assert sample.sample_idx == 0


def _multi_label_list(tmp_path, n=40, width=5):
    lines = []
    for i in range(n):
        bits = [(i >> b) & 1 for b in range(width)]
        bits[i % width] = 1  # never all-zero
        lines.append(f'img/{i}.jpg ' + ' '.join(map(str, bits)))
    return _write(tmp_path / 'train.txt', lines)


def _paths(ds):
    return [ds.get_data_info(i)['img_path'] for i in range(len(ds))]


def test_list_validation_num_cuts_seeded_disjoint_parts(tmp_path):
    """validation=dict(num, seed): 'val' holds num lines, 'train' the rest
    in file order; the two cover the list exactly once; the seed decides
    the cut and the same seed gives the same cut."""
    ann = _multi_label_list(tmp_path)
    full = _paths(HashingListDataset(ann_file=ann, num_classes=5))
    cut = dict(num=7, seed=3)
    val = HashingListDataset(ann_file=ann, num_classes=5, validation=cut,
                             split='val')
    fit = HashingListDataset(ann_file=ann, num_classes=5, validation=cut,
                             split='train')
    assert len(val) == 7 and len(fit) == 33
    assert sorted(_paths(val) + _paths(fit)) == sorted(full)
    assert not set(_paths(val)) & set(_paths(fit))
    assert _paths(fit) == [p for p in full if p not in set(_paths(val))]
    lines = [val.get_data_info(i)['list_line'] for i in range(len(val))]
    assert all(full[line - 1] == p for line, p in zip(lines, _paths(val)))
    again = HashingListDataset(ann_file=ann, num_classes=5, validation=cut,
                               split='val')
    assert _paths(again) == _paths(val)
    other = HashingListDataset(ann_file=ann, num_classes=5,
                               validation=dict(num=7, seed=4), split='val')
    assert set(_paths(other)) != set(_paths(val))


def test_list_validation_num_per_class_on_one_hot_list(tmp_path):
    lines = [f'c{i % 3}/{i}.jpg ' + ' '.join(
        '1' if c == i % 3 else '0' for c in range(3)) for i in range(30)]
    ann = _write(tmp_path / 'one_hot.txt', lines)
    cut = dict(num_per_class=2)
    val = HashingListDataset(ann_file=ann, num_classes=3, validation=cut,
                             split='val')
    fit = HashingListDataset(ann_file=ann, num_classes=3, validation=cut,
                             split='train')
    classes = sorted(val.get_data_info(i)['gt_label'][0]
                     for i in range(len(val)))
    assert classes == [0, 0, 1, 1, 2, 2] and len(fit) == 24
    with pytest.raises(ValueError, match='class 0 has 10 training images'):
        HashingListDataset(ann_file=ann, num_classes=3,
                           validation=dict(num_per_class=10), split='val')


@pytest.mark.parametrize('kwargs,match', [
    (dict(validation=dict(num=3)), "needs split='train'"),
    (dict(split='val'), r"split='val' needs validation=dict\(num="),
    (dict(split='test', validation=dict(num=3)), "split='test' is not one"),
    (dict(validation=dict(num=3, num_per_class=1), split='val'),
     'exactly one of num / num_per_class'),
    (dict(validation=dict(fraction=0.1), split='val'), 'exactly one of'),
    (dict(validation=dict(num=40), split='val'),
     r'train.txt: validation=.*num must be an int in \[1, 40\)'),
    (dict(validation=dict(num_per_class=1), split='train'),
     r'train.txt: validation=.*line 2 has 2 positive labels'),
])
def test_list_validation_refusals_name_the_problem(tmp_path, kwargs, match):
    ann = _multi_label_list(tmp_path)
    with pytest.raises(ValueError, match=match):
        HashingListDataset(ann_file=ann, num_classes=5, **kwargs)


def test_docs_list_validation_config_builds(tmp_path):
    """The docs/datasets.md recipe on a NUS-WIDE config: the validation
    queries and the training images the model fits are disjoint parts of
    train.txt; the test loader keeps the protocol's lists."""
    import os.path as osp

    from mmengine.config import Config

    import hashplugins  # noqa: F401  (registers the datasets)
    root = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    lines = [f'img/{i}.jpg ' + ' '.join(
        '1' if c in (i % 21, (i * 7) % 21) else '0' for c in range(21))
        for i in range(60)]
    _write(tmp_path / 'train.txt', lines)
    leaf = tmp_path / 'val_leaf.py'
    leaf.write_text(
        f"_base_ = [{osp.join(root, 'configs/dadh/dadh_r50_nuswide21_48bit.py')!r}]\n"
        "validation = dict(num=12, seed=0)\n"
        f"train_dataloader = dict(dataset=dict(data_root={str(tmp_path)!r}, "
        "validation=validation, split='train'))\n"
        "val_dataloader = dict(dataset=dict(\n"
        f"    query=dict(data_root={str(tmp_path)!r}, ann_file='train.txt', "
        "validation=validation, split='val'),\n"
        f"    database=dict(data_root={str(tmp_path)!r}, "
        "ann_file='train.txt', validation=validation, split='train')))\n")
    cfg = Config.fromfile(str(leaf))
    assert cfg.test_dataloader.dataset.query.ann_file == 'test.txt'
    train = DATASETS.build(cfg.train_dataloader.dataset)
    val = DATASETS.build(cfg.val_dataloader.dataset)
    query = [val.query.get_data_info(i)['img_path']
             for i in range(len(val.query))]
    database = [val.database.get_data_info(i)['img_path']
                for i in range(len(val.database))]
    assert len(query) == 12 and len(train) == len(database) == 48
    assert database == _paths(train) and not set(query) & set(database)
