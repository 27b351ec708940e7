"""Protocol splits: exact counts, set relations, determinism, stored files."""
import json
import os

import numpy as np
import pytest

from hashplugins.datasets import protocols as P
from hashplugins.datasets import splits as S
from hashplugins.datasets.cache import publish_dir

# 6 classes x 40 images, class-sorted like an image-folder pool.
LABELS = np.repeat(np.arange(6), 40)


def _sets(split):
    return {k: set(v.tolist()) for k, v in split.items()}


def _per_class(split, name):
    return np.bincount(LABELS[split[name]], minlength=6).tolist()


def test_rest_excludes_train_from_database():  # CIFAR-10 protocol (a)
    split = S.make_single_label_split(LABELS, 3, 10, 'rest', seed=0)
    s = _sets(split)
    assert _per_class(split, 'query') == [3] * 6
    assert _per_class(split, 'train') == [10] * 6
    assert not s['query'] & s['database']
    assert not s['train'] & s['database']
    assert not s['query'] & s['train']
    assert s['query'] | s['train'] | s['database'] == set(range(240))


def test_capped_database_draws_after_query_and_train():
    full = S.make_single_label_split(LABELS, 3, 10, 'rest', seed=0)
    split = S.make_single_label_split(LABELS, 3, 10, 'rest', seed=0,
                                      num_database_per_class=7)
    s = _sets(split)
    # query and train are those of the uncapped protocol
    assert np.array_equal(split['query'], full['query'])
    assert np.array_equal(split['train'], full['train'])
    assert _per_class(split, 'database') == [7] * 6
    assert s['database'] <= set(full['database'].tolist())
    spec = P.per_class_protocol(3, 10, 'rest', num_database_per_class=7)
    S.validate_split(split, LABELS, spec)
    with pytest.raises(ValueError, match='database has 27 images of class 0'):
        S.validate_split(full, LABELS, spec)
    # the uncapped protocol keeps its canonical form and digest
    assert 'num_database_per_class' not in P.per_class_protocol(3, 10)
    assert (P.protocol_digest(P.per_class_protocol(3, 10))
            != P.protocol_digest(spec))


@pytest.mark.parametrize('kwargs,match', [
    (dict(database='all', num_database_per_class=5), "database='rest' only"),
    (dict(num_database_per_class=0), 'int >= 1'),
    (dict(num_database_per_class=40), '3 query \+ 10 train \+ 40 database'),
])
def test_capped_database_bad_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        S.make_single_label_split(LABELS, 3, 10, seed=0,
                                  **dict(dict(database='rest'), **kwargs))


def test_rest_plus_train_draws_train_from_database():  # protocol (b)
    split = S.make_single_label_split(LABELS, 3, 10, 'rest_plus_train', 0)
    s = _sets(split)
    assert len(split['database']) == 240 - 18
    assert not s['query'] & s['database']
    assert s['train'] <= s['database']
    assert _per_class(split, 'train') == [10] * 6


def test_all_database_and_train_none():
    split = S.make_single_label_split(LABELS, 2, None, 'all', 0)
    s = _sets(split)
    assert s['database'] == set(range(240))
    assert s['train'] == set(range(240)) - s['query']
    split = S.make_single_label_split(LABELS, 2, None, 'rest_plus_train', 0)
    assert _sets(split)['train'] == _sets(split)['database']
    with pytest.raises(ValueError, match="empty database"):
        S.make_single_label_split(LABELS, 2, None, 'rest', 0)


def test_seeded_and_not_class_sorted():
    a = S.make_single_label_split(LABELS, 3, 10, 'rest', seed=5)
    b = S.make_single_label_split(LABELS, 3, 10, 'rest', seed=5)
    c = S.make_single_label_split(LABELS, 3, 10, 'rest', seed=6)
    for name in P.SPLIT_NAMES:
        np.testing.assert_array_equal(a[name], b[name])
    assert _sets(a)['query'] != _sets(c)['query']
    # Permutation order: the database does not follow the class order, so
    # tie-breaking by database position does not favour early classes.
    db_labels = LABELS[a['database']]
    assert not np.all(np.diff(db_labels) >= 0)


def test_too_few_images_names_the_class():
    labels = np.r_[np.zeros(30, int), np.ones(5, int)]
    with pytest.raises(ValueError, match='class 1 has 5 images.*13'):
        S.make_single_label_split(labels, 3, 10, 'rest', 0)


def test_partition_protocol():
    parts = {'train': np.arange(200), 'test': np.arange(200, 240)}
    split = S.make_split(LABELS, P.STANDARD_PROTOCOLS['c'], 0, parts)
    np.testing.assert_array_equal(split['query'], np.arange(200, 240))
    np.testing.assert_array_equal(split['train'], np.arange(200))
    np.testing.assert_array_equal(split['database'], np.arange(200))
    with pytest.raises(ValueError, match='no official partitions'):
        S.make_split(LABELS, P.STANDARD_PROTOCOLS['c'], 0, None)
    with pytest.raises(ValueError, match="partition 'test'"):
        S.make_split(LABELS, P.STANDARD_PROTOCOLS['c'], 0,
                     {'train': np.arange(240)})


def test_protocol_resolution():
    table = P.STANDARD_PROTOCOLS
    aliases = {'cifar10-1': 'b'}
    assert P.resolve_protocol('cifar10-1', table, 'a', aliases)[0] == 'b'
    assert P.resolve_protocol(None, table, 'a')[0] == 'a'
    with pytest.raises(ValueError, match="no protocol 'zz'.*known"):
        P.resolve_protocol('zz', table, 'a', owner='X')
    name, spec = P.resolve_protocol(
        dict(num_query_per_class=1, num_train_per_class=2), table)
    assert name.startswith('custom-') and spec['database'] == 'rest'
    with pytest.raises(ValueError, match="unknown key.*'typo'"):
        P.normalize_protocol(dict(num_query_per_class=1, typo=2))
    with pytest.raises(ValueError, match='database='):
        P.per_class_protocol(1, 1, 'everything')


SPEC = P.per_class_protocol(3, 10, 'rest')


def _read(folder):
    return {
        f: open(os.path.join(folder, f)).read()
        for f in ('query.txt', 'train.txt', 'database.txt', 'meta.json')
    }


def test_split_files_written_and_reloaded(tmp_path):
    d1, d2, d3 = tmp_path / 's1', tmp_path / 's2', tmp_path / 's3'
    first = S.load_or_create_split(str(d1), 'toy', LABELS, SPEC, seed=1)
    again = S.load_or_create_split(str(d1), 'toy', LABELS, SPEC, seed=1)
    S.load_or_create_split(str(d2), 'toy', LABELS, SPEC, seed=1)
    S.load_or_create_split(str(d3), 'toy', LABELS, SPEC, seed=2)
    for name in P.SPLIT_NAMES:
        np.testing.assert_array_equal(first[name], again[name])
    assert _read(d1) == _read(d2)  # same seed -> identical files
    assert _read(d1)['query.txt'] != _read(d3)['query.txt']
    meta = json.loads(_read(d1)['meta.json'])
    assert meta['counts'] == {'query': 18, 'train': 60, 'database': 162}
    assert meta['seed'] == 1 and meta['num_samples'] == 240
    lines = _read(d1)['query.txt'].splitlines()
    assert [int(x) for x in lines] == first['query'].tolist()
    # Nothing but the split directories is left behind (no temp folders).
    assert sorted(os.listdir(tmp_path)) == ['s1', 's2', 's3']


def test_default_split_dir_in_cache(tmp_cache, tmp_path):
    S.load_or_create_split(
        None, 'toy', LABELS, SPEC, seed=3, protocol_name='mine')
    assert (tmp_cache / 'splits' / 'toy' / 'mine_seed3' /
            'meta.json').is_file()
    # With the pool's source (its data root) the folder is keyed by it.
    S.load_or_create_split(None, 'toy', LABELS, SPEC, seed=3,
                           protocol_name='mine', source=str(tmp_path))
    folder = f'mine_seed3_src-{S.source_digest(str(tmp_path))}'
    meta = tmp_cache / 'splits' / 'toy' / folder / 'meta.json'
    assert str(tmp_path.resolve()) in meta.read_text()


def test_cache_is_keyed_by_source(tmp_cache, tmp_path):
    """Two pools read through one dataset name from two roots (e.g. two
    idx-format digit sets through MNISTHashing) get their own cached
    splits; the same root with changed content is still refused, naming
    both and the way out."""
    other = np.roll(LABELS, 5)
    first = S.load_or_create_split(None, 'toy', LABELS, SPEC, seed=1,
                                   source=str(tmp_path / 'a'))
    S.load_or_create_split(None, 'toy', other, SPEC, seed=1,
                           source=str(tmp_path / 'b'))
    again = S.load_or_create_split(None, 'toy', LABELS, SPEC, seed=1,
                                   source=str(tmp_path / 'a'))
    for part in ('query', 'train', 'database'):
        np.testing.assert_array_equal(again[part], first[part])
    assert len(os.listdir(tmp_cache / 'splits' / 'toy')) == 2
    with pytest.raises(ValueError) as err:
        S.load_or_create_split(None, 'toy', other, SPEC, seed=1,
                               source=str(tmp_path / 'a'))
    message = str(err.value)
    assert f"read from {tmp_path.resolve() / 'a'}" in message
    assert 'records label_sha1' in message and 'files under' in message


def test_mismatch_names_both_datasets(tmp_path):
    S.load_or_create_split(str(tmp_path / 's'), 'toy', LABELS, SPEC, seed=1)
    with pytest.raises(ValueError) as err:
        S.load_or_create_split(str(tmp_path / 's'), 'other', LABELS[:-6],
                               SPEC, seed=1)
    message = str(err.value)
    assert "records dataset 'toy', 240 images" in message
    assert '(other, 234 images)' in message
    assert 'leave split_dir unset' in message


@pytest.mark.parametrize('change, key', [
    (dict(labels=np.roll(LABELS, 1)), 'label_sha1'),
    (dict(seed=9), 'seed'),
    (dict(protocol=P.per_class_protocol(3, 10, 'rest_plus_train')),
     'protocol'),
    (dict(labels=LABELS[:-6]), 'num_samples'),
])
def test_stale_split_is_refused(tmp_path, change, key):
    S.load_or_create_split(str(tmp_path / 's'), 'toy', LABELS, SPEC, seed=1)
    kwargs = dict(labels=LABELS, protocol=SPEC, seed=1)
    kwargs.update(change)
    with pytest.raises(ValueError, match=f'records {key}=.*delete'):
        S.load_or_create_split(str(tmp_path / 's'), 'toy', **kwargs)


@pytest.mark.parametrize('edit, message', [
    (lambda q: q[:1] + q[:-1], 'twice'),
    (lambda q: ['999'] + q[1:], 'outside the dataset'),
    (lambda q: q[:2] + ['x7'] + q[3:], r'query.txt:3: .*not a non-negative'),
    (lambda q: q[:-1], 'lines, meta.json records'),
])
def test_corrupt_split_files(tmp_path, edit, message):
    folder = tmp_path / 's'
    S.load_or_create_split(str(folder), 'toy', LABELS, SPEC, seed=1)
    path = folder / 'query.txt'
    path.write_text('\n'.join(edit(path.read_text().split())) + '\n')
    with pytest.raises(ValueError, match=message):
        S.load_or_create_split(str(folder), 'toy', LABELS, SPEC, seed=1)


def test_hand_edited_split_breaking_protocol(tmp_path):
    folder = tmp_path / 's'
    split = S.load_or_create_split(str(folder), 'toy', LABELS, SPEC, seed=1)
    # Move one database image into the query list: counts break.
    q = split['query'].tolist() + [int(split['database'][0])]
    (folder / 'query.txt').write_text(''.join(f'{i}\n' for i in q))
    meta = json.loads((folder / 'meta.json').read_text())
    meta['counts']['query'] += 1
    (folder / 'meta.json').write_text(json.dumps(meta))
    with pytest.raises(ValueError, match='the protocol says 3'):
        S.load_or_create_split(str(folder), 'toy', LABELS, SPEC, seed=1)


def test_incomplete_directory_is_not_a_split(tmp_path):
    folder = tmp_path / 's'
    folder.mkdir()
    (folder / 'query.txt').write_text('1\n')
    with pytest.raises(FileNotFoundError, match='meta.json is missing'):
        S.load_or_create_split(str(folder), 'toy', LABELS, SPEC)


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):

    def boom(*args, **kwargs):
        raise RuntimeError('disk full')

    monkeypatch.setattr(S.json, 'dump', boom)
    with pytest.raises(RuntimeError, match='disk full'):
        S.load_or_create_split(str(tmp_path / 's'), 'toy', LABELS, SPEC)
    assert os.listdir(tmp_path) == []


def test_publish_dir_keeps_the_winner_of_a_race(tmp_path):
    target = tmp_path / 'out'
    with publish_dir(str(target)) as tmp:
        open(os.path.join(tmp, 'mine'), 'w').close()
        target.mkdir()  # another process finishes first
        (target / 'theirs').write_text('x')
    assert os.listdir(target) == ['theirs']
    assert os.listdir(tmp_path) == ['out']
