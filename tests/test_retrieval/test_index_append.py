"""BinaryIndex.add in chunks (pending chunks, joined on demand; faiss adds
per chunk) equals one add; paths are a compact PackedStrings column."""
import numpy as np
import pytest

from hashplugins.evaluation.functional import hamming_ranking, pack_codes
from hashplugins.retrieval import BinaryIndex
from hashplugins.retrieval.binary_index import PackedStrings

faiss = pytest.importorskip('faiss')

ODD_PATHS = ['a.jpg', 'dir/ünïcödé.png', '猫/画像.jpg', 'bad\udcff.jpg',
             'emoji \U0001F600.jpg', '', 'trail\x00\x00', 'mid\x00dle']


def make_rows(rng, n, bits, classes=5):
    codes = (rng.integers(0, 2, (n, bits)) * 2 - 1).astype(np.int8)
    codes[rng.random(n) < 0.3] = codes[0]  # ties
    ids = rng.permutation(10 * n)[:n]
    paths = [ODD_PATHS[i % len(ODD_PATHS)] + f'/{i}' * (i % 3)
             for i in range(n)]
    labels = rng.integers(0, 2, (n, classes)).astype(np.uint8)
    return codes, ids, paths, labels


def saved_members(index, path):
    index.save(path)
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def assert_same_index(a, b, queries, tmp_path):
    assert len(a) == len(b)
    np.testing.assert_array_equal(a.codes, b.codes)
    np.testing.assert_array_equal(a.ids, b.ids)
    assert a.ids.dtype == b.ids.dtype == np.int64
    for name in ('paths', 'labels'):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    for backend in ('exact', 'faiss'):
        ra, rb = (i.search(queries, 37, backend=backend) for i in (a, b))
        for x, y in zip(ra, rb):
            np.testing.assert_array_equal(x, y)
        for radius in (0, 3):
            ra, rb = (i.range_search(queries, radius, backend=backend)
                      for i in (a, b))
            for x, y in zip(ra, rb):
                np.testing.assert_array_equal(x, y)
    fa = saved_members(a, str(tmp_path / 'a.npz'))
    fb = saved_members(b, str(tmp_path / 'b.npz'))
    assert fa.keys() == fb.keys()
    for key in fa:
        assert fa[key].dtype == fb[key].dtype, key
        np.testing.assert_array_equal(fa[key], fb[key], key)


@pytest.mark.parametrize('backend', ['exact', 'faiss'])
@pytest.mark.parametrize('extras', [(), ('paths', ), ('labels', ),
                                    ('paths', 'labels')])
@pytest.mark.parametrize('default_ids', [True, False])
def test_many_chunks_equal_one_add(backend, extras, default_ids, tmp_path):
    rng = np.random.default_rng(len(extras))
    codes, ids, paths, labels = make_rows(rng, 1000, 20)
    queries = codes[rng.integers(0, 1000, 25)]

    def kwargs(a, b):
        out = {} if default_ids else dict(ids=ids[a:b])
        if 'paths' in extras:
            out['paths'] = paths[a:b]
        if 'labels' in extras:
            out['labels'] = labels[a:b]
        return out

    one = BinaryIndex(20, backend=backend)
    one.add(codes, **kwargs(0, 1000))
    many = BinaryIndex(20, backend=backend)
    cuts = np.unique(np.concatenate(
        [[0, 0, 1, 1, 500, 1000], rng.integers(0, 1000, 60)]))
    for a, b in zip(cuts[:-1], cuts[1:]):
        # Mixed inputs: packed uint8 and ±1; an empty chunk too.
        chunk = pack_codes(codes[a:b]) if a % 2 else codes[a:b]
        many.add(chunk, **kwargs(a, b))
    many.add(codes[:0], **kwargs(1000, 1000))
    assert_same_index(one, many, queries, tmp_path)
    if 'paths' in extras:
        # The same Python values as the unicode array of the old layout.
        old = np.asarray([str(p) for p in paths])
        assert isinstance(many.paths, PackedStrings)
        np.testing.assert_array_equal(np.asarray(many.paths), old)
        assert many.paths[7] == old[7] and type(many.paths[7]) is np.str_


@pytest.mark.parametrize('backend', ['exact', 'faiss'])
def test_adds_between_searches_and_after_load(backend, tmp_path):
    """Searches between adds (the faiss index is appended to, or catches
    up in sync) and adds to a loaded index give the lists of a fresh
    index of the same rows."""
    rng = np.random.default_rng(5)
    codes, ids, paths, labels = make_rows(rng, 900, 64)
    queries = codes[:30]
    grown = BinaryIndex(64, backend=backend)
    for a in range(0, 600, 150):
        grown.add(codes[a:a + 150], ids=ids[a:a + 150],
                  paths=paths[a:a + 150], labels=labels[a:a + 150])
        grown.search(queries, 5)
        grown.range_search(queries, 2, backend='faiss')
    grown.save(str(tmp_path / 'g.npz'))
    loaded = BinaryIndex.load(str(tmp_path / 'g.npz'), backend=backend)
    for index in (grown, loaded):
        for a in range(600, 900, 100):
            index.add(codes[a:a + 100], ids=ids[a:a + 100],
                      paths=paths[a:a + 100], labels=labels[a:a + 100])
            index.search(queries[:3], 2)
    fresh = BinaryIndex(64, backend=backend)
    fresh.add(codes, ids=ids, paths=paths, labels=labels)
    ref_pos, ref_dist = hamming_ranking(queries, codes, topk=50)
    np.testing.assert_array_equal(fresh.search(queries, 50).positions,
                                  ref_pos)
    assert_same_index(grown, fresh, queries, tmp_path)
    assert_same_index(loaded, fresh, queries, tmp_path)


def test_refused_add_changes_nothing_and_input_is_copied():
    index = BinaryIndex(16, backend='faiss')
    packed = pack_codes(np.ones((4, 16)))
    index.add(packed, paths=list('abcd'), labels=np.eye(4)[:, :3])
    with pytest.raises(ValueError, match='classes'):
        index.add(packed, paths=list('efgh'), labels=np.eye(4))
    with pytest.raises(ValueError, match='paths'):
        index.add(packed, labels=np.eye(4)[:, :3])
    assert len(index) == 4 and index.paths.tolist() == list('abcd')
    packed[:] = 0  # the caller's array changes after add
    np.testing.assert_array_equal(index.codes, 255)
    assert index.search(pack_codes(np.ones((1, 16))), 4).distances.max() \
        == 0


def test_packed_strings_reads_like_unicode_array():
    strings = ODD_PATHS * 3
    col = PackedStrings.from_strings(strings)
    ref = np.asarray(strings)  # the old layout (drops trailing NULs)
    assert len(col) == len(ref) and col.shape == ref.shape
    assert col.tolist() == ref.tolist()
    assert list(col) == list(ref)
    for i in (0, 3, 4, 6, -1, -len(ref), np.int64(5)):
        assert col[i] == ref[i] and type(col[i]) is np.str_
    for key in (slice(None), slice(2, 11, 3), slice(None, None, -2),
                [0, -1, 3], np.array([[1, 2], [3, 4]]), np.array([], int),
                ref == 'a.jpg', slice(5, 5)):
        got, want = col[key], ref[key]
        assert isinstance(got, np.ndarray) and got.shape == want.shape
        assert got.tolist() == want.tolist()
    np.testing.assert_array_equal(col == 'a.jpg', ref == 'a.jpg')
    for bad in (len(ref), -len(ref) - 1, [0, len(ref)]):
        with pytest.raises(IndexError):
            col[bad]
    assert PackedStrings.concatenate(
        [PackedStrings.from_strings(strings[:5]),
         PackedStrings.from_strings([]),
         PackedStrings.from_strings(strings[5:])]).tolist() == ref.tolist()
    empty = PackedStrings.from_strings([])
    assert len(empty) == 0 and np.asarray(empty).shape == (0, )
    # Compact: UTF-8 bytes + 8-byte offsets, not 4 bytes x longest path.
    paths = [f'data/images/{i:08d}.jpg' for i in range(1000)]
    assert PackedStrings.from_strings(paths).nbytes == 1000 * (24 + 8) + 8
    assert np.asarray(paths).nbytes == 1000 * 24 * 4
