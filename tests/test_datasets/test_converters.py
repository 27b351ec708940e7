"""tools/dataset_converters: CIFAR-10 split files and folder -> list files."""
import importlib.util
import os
import os.path as osp
import shutil

import pytest

from hashplugins.datasets import HashingListDataset, parse_hashing_list

TOOLS = osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'tools',
    'dataset_converters')


def _tool(name):
    spec = importlib.util.spec_from_file_location(
        name, osp.join(TOOLS, f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_folder_to_list_whole_and_split(image_tree, tmp_path, capsys):
    tool = _tool('folder_to_list')
    root = image_tree({'cat': 6, 'dog': 7})
    prefix = str(tmp_path / 'lists' / 'toy')
    assert tool.main([root, prefix]) == 0
    entries = parse_hashing_list(prefix + '.txt', 2)
    assert len(entries) == 13 and entries[0].path == 'cat/img_000.jpg'
    assert entries[-1].labels == [1]
    assert open(prefix + '_classes.txt').read() == 'cat\ndog\n'

    assert tool.main([root, prefix]) == 0  # same content: nothing to refuse
    extra = osp.join(root, 'dog', 'img_extra.jpg')
    shutil.copy(osp.join(root, 'dog', 'img_000.jpg'), extra)
    with pytest.raises(FileExistsError, match='other content.*--overwrite'):
        tool.main([root, prefix])
    os.remove(extra)
    args = [
        root, prefix, '--split', '--num-query-per-class', '2',
        '--num-train-per-class', '3', '--database', 'rest', '--seed', '4'
    ]
    assert tool.main(args) == 0
    assert 'query          4' in capsys.readouterr().out
    sets = {}
    for part, size in (('query', 4), ('train', 6), ('database', 3)):
        ds = HashingListDataset(
            ann_file=f'{prefix}_{part}.txt',
            num_classes=2,
            data_root=root,
            classes=f'{prefix}_classes.txt',
            check_files=True)
        assert len(ds) == size and ds.metainfo['classes'] == ('cat', 'dog')
        sets[part] = {ds.get_data_info(i)['img_path'] for i in range(size)}
    assert not sets['query'] & sets['database']
    assert not sets['train'] & sets['database']
    first = open(f'{prefix}_query.txt').read()
    tool.main(args + ['--overwrite'])
    assert open(f'{prefix}_query.txt').read() == first  # seeded
    assert not [n for n in os.listdir(tmp_path / 'lists') if '.tmp' in n]


def test_folder_to_list_errors(image_tree, tmp_path):
    tool = _tool('folder_to_list')
    with pytest.raises(FileNotFoundError, match='not a folder'):
        tool.main([str(tmp_path / 'none'), str(tmp_path / 'x')])
    root = image_tree({'a b': 2})
    with pytest.raises(ValueError, match='contains whitespace'):
        tool.main([root, str(tmp_path / 'x')])
    root = image_tree({'a': 3}, subdir='small')
    with pytest.raises(ValueError, match='class 0 has 3 images'):
        tool.main([root, str(tmp_path / 'y'), '--split', '--protocol', 'a'])
    assert not osp.exists(tmp_path / 'y_classes.txt')


def test_cifar10_to_splits(shared_data, tmp_path, capsys):
    tool = _tool('cifar10_to_splits')
    root = osp.join(shared_data, 'cifar10')
    out = str(tmp_path / 'c10')
    assert tool.main([root, out, '--protocol', 'cifar10-1', '--seed',
                      '1']) == 0
    text = capsys.readouterr().out
    assert 'database   59000' in text and '[500, 500,' in text
    first = {f: open(osp.join(out, f)).read() for f in os.listdir(out)}
    assert sorted(first) == [
        'database.txt', 'meta.json', 'query.txt', 'train.txt'
    ]
    tool.main([root, out, '--protocol', 'b', '--seed', '1'])  # reused
    assert {f: open(osp.join(out, f)).read() for f in os.listdir(out)} == first
    with pytest.raises(ValueError, match='records seed=1'):
        tool.main([root, out, '--protocol', 'b', '--seed', '2'])
