"""tools/dataset_converters/visda2017_to_lists.py on a fake VisDA tree."""
import importlib.util
import os
import os.path as osp

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _converter():
    path = osp.join(REPO, 'tools', 'dataset_converters',
                    'visda2017_to_lists.py')
    spec = importlib.util.spec_from_file_location('visda2017_to_lists', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fake_visda(root, per_class=6, classes=None, skip=None):
    conv = _converter()
    for folder, ext in (('train', 'png'), ('validation', 'jpg')):
        if folder == skip:
            continue
        for cls in classes or conv.VISDA_CLASSES:
            os.makedirs(osp.join(root, folder, cls))
            for i in range(per_class):
                open(osp.join(root, folder, cls, f'{i:03d}.{ext}'),
                     'wb').close()
    # VisDA ships image_list.txt beside the class folders: not a class.
    if skip != 'train':
        with open(osp.join(root, 'train', 'image_list.txt'), 'w') as f:
            f.write('ignored\n')
    return root


def _read(path):
    with open(path) as f:
        return [line.split() for line in f]


def test_writes_the_paper_protocol_lists(tmp_path):
    conv = _converter()
    root = _fake_visda(str(tmp_path / 'visda'))
    assert conv.main([root, '--num-query-per-class', '2',
                      '--num-train-per-class', '3', '--seed', '1']) == 0
    lists = osp.join(root, 'lists')
    for name, folder in (('synthetic', 'train'), ('real', 'validation')):
        query = _read(osp.join(lists, f'{name}_query.txt'))
        database = _read(osp.join(lists, f'{name}_database.txt'))
        train = _read(osp.join(lists, f'{name}_train.txt'))
        assert len(query) == 2 * 12 and len(database) == 4 * 12
        assert len(train) == 3 * 12
        q, db, tr = ({r[0] for r in x} for x in (query, database, train))
        assert not q & db  # queries are not in the database
        assert tr <= db  # training images drawn from the database
        assert len(q | db) == 6 * 12  # the whole domain
        for row in query + database + train:
            assert len(row) == 13 and row[1:].count('1') == 1
            cls = row[0].split('/')[0]
            assert row[1 + conv.VISDA_CLASSES.index(cls)] == '1'
            assert osp.isfile(osp.join(root, folder, row[0]))
        classes = [c.strip() for c in open(
            osp.join(lists, f'{name}_classes.txt'))]
        assert tuple(classes) == conv.VISDA_CLASSES
    # Seeded: same seed same lists; existing lists are refused.
    with pytest.raises(FileExistsError, match='--overwrite'):
        conv.main([root, '--num-query-per-class', '2',
                   '--num-train-per-class', '3'])
    before = open(osp.join(lists, 'real_query.txt')).read()
    conv.main([root, '--num-query-per-class', '2', '--num-train-per-class',
               '3', '--seed', '1', '--overwrite'])
    assert open(osp.join(lists, 'real_query.txt')).read() == before


def test_clear_errors(tmp_path):
    conv = _converter()
    with pytest.raises(FileNotFoundError, match='validation'):
        conv.main([_fake_visda(str(tmp_path / 'a'), skip='validation')])
    with pytest.raises(ValueError, match='12 VisDA classes'):
        conv.main([_fake_visda(str(tmp_path / 'b'),
                               classes=conv.VISDA_CLASSES[:11])])
    root = _fake_visda(str(tmp_path / 'c'), per_class=4)
    with pytest.raises(ValueError, match='fewer than the 5'):
        conv.main([root, '--num-query-per-class', '2',
                   '--num-train-per-class', '3'])
    assert not osp.exists(osp.join(root, 'lists'))  # nothing written
