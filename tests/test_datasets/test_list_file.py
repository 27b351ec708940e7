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
