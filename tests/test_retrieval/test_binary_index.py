"""BinaryIndex search equals the evaluation engine; faiss equals exact."""
import numpy as np
import pytest

from hashplugins.evaluation.functional import (hamming_distance,
                                               hamming_ranking,
                                               mean_average_precision,
                                               pack_codes, unpack_codes)
from hashplugins.retrieval import BinaryIndex
from hashplugins.retrieval.binary_index import RangeResult

faiss = pytest.importorskip('faiss')


def tie_heavy_codes(rng, num_db, num_q, bits, prototypes=6, flip=0.1):
    """Database and query codes around a few shared prototypes (labels =
    prototype): many exact ties in distance."""
    protos = rng.integers(0, 2, (prototypes, bits)) * 2 - 1
    n = num_db + num_q
    labels = rng.integers(0, prototypes, n)
    codes = (protos[labels] *
             np.where(rng.random((n, bits)) < flip, -1, 1)).astype(np.int8)
    return codes[:num_db], labels[:num_db], codes[num_db:], labels[num_db:]


@pytest.mark.parametrize('bits', [8, 12, 64])
def test_knn_equals_engine_and_faiss(bits):
    rng = np.random.default_rng(bits)
    db, _, q, _ = tie_heavy_codes(rng, 3000, 70, bits)
    index = BinaryIndex(bits, backend='exact', block_size=16)
    index.add(db[:1234])
    index.add(db[1234:])  # incremental add keeps the position order
    ref_pos, ref_dist = hamming_ranking(q, db, topk=100)
    for backend in ('exact', 'faiss'):
        res = index.search(q, 100, backend=backend)
        np.testing.assert_array_equal(res.positions, ref_pos, backend)
        np.testing.assert_array_equal(res.distances, ref_dist, backend)
        np.testing.assert_array_equal(res.ids, ref_pos, backend)


def test_knn_with_ids_and_packed_queries():
    rng = np.random.default_rng(1)
    db, _, _, _ = tie_heavy_codes(rng, 500, 0, 16)
    ids = rng.permutation(10_000)[:500]
    index = BinaryIndex(16, backend='faiss')
    index.add(pack_codes(db), ids=ids)
    res = index.search(pack_codes(db[:5]), 600)  # k clipped to the size
    assert res.ids.shape == (5, 500)
    ref_pos, _ = hamming_ranking(db[:5], db)
    np.testing.assert_array_equal(res.ids, ids[ref_pos])


@pytest.mark.parametrize('bits,radius', [(12, 0), (12, 2), (16, 3),
                                         (64, 2), (64, 9), (8, 8)])
@pytest.mark.parametrize('range_index,hash_bits', [
    ('multihash', None), ('flat', None), ('hash', None), ('hash', 5),
    ('hash', 24)])
def test_radius_faiss_equals_exact(bits, radius, range_index, hash_bits):
    """Every faiss radius index gives the exact backend's lists; 'hash'
    also with fewer key bits than the radius (all buckets flipped), a key
    longer than the code (clamped) and keys over the pad bits of 12-bit
    codes."""
    rng = np.random.default_rng(radius)
    db, _, q, _ = tie_heavy_codes(rng, 2000, 40, bits, flip=0.05)
    index = BinaryIndex(bits, backend='exact', range_index=range_index,
                        hash_bits=hash_bits)
    index.add(db)
    exact = index.range_search(q, radius)
    fast = index.range_search(q, radius, backend='faiss')
    dist = hamming_distance(q, db).astype(np.int64)
    assert exact.lims[-1] > 0
    for i in range(len(q)):
        a, b = exact.query(i), fast.query(i)
        want = np.flatnonzero(dist[i] <= radius)
        assert set(a.positions) == set(b.positions) == set(want)
        # Both are ordered by (distance, position): even the lists agree.
        np.testing.assert_array_equal(a.positions, b.positions)
        np.testing.assert_array_equal(a.distances, dist[i, a.positions])
        order = np.lexsort((want, dist[i, want]))
        np.testing.assert_array_equal(a.positions, want[order])


def test_hash_range_index_follows_appends_and_load(tmp_path):
    """range_index='hash' built at a first range search takes later
    chunks (appended to the table) and survives save/load (rebuilt):
    the hits equal the exact backend's after every add."""
    rng = np.random.default_rng(11)
    db, _, q, _ = tie_heavy_codes(rng, 1200, 30, 32, flip=0.03)
    grown = BinaryIndex(32, backend='faiss', range_index='hash',
                        hash_bits=12)
    for a in range(0, 1200, 300):
        grown.add(db[a:a + 300])
        fast = grown.range_search(q, 3)
        exact = grown.range_search(q, 3, backend='exact')
        assert exact.lims[-1] > 0
        for name in RangeResult._fields:
            np.testing.assert_array_equal(getattr(fast, name),
                                          getattr(exact, name))
    grown.save(str(tmp_path / 'h.npz'))
    loaded = BinaryIndex.load(str(tmp_path / 'h.npz'), backend='faiss',
                              range_index='hash', hash_bits=12)
    again = loaded.range_search(q, 3)
    for name in RangeResult._fields:
        np.testing.assert_array_equal(getattr(again, name),
                                      getattr(fast, name))


@pytest.mark.parametrize('kwargs,match', [
    (dict(range_index='hash', hash_bits=0), 'hash_bits must be an integer'),
    (dict(range_index='hash', hash_bits=40), r'in \[1, 32\]'),
    (dict(range_index='hash', hash_bits=2.5), 'got 2.5'),
    (dict(range_index='multihash', hash_bits=16),
     "knob of range_index='hash'"),
    (dict(range_index='lsh'), 'range_index must be one of'),
])
def test_range_index_knobs_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        BinaryIndex(64, **kwargs)


def test_save_load_search_and_map_equal_engine(tmp_path):
    """encode-like codes -> index -> save -> load -> search: identical
    lists to the engine's ranking, and mAP@k from the lists equals the
    engine's mean_average_precision (tie_break='index')."""
    rng = np.random.default_rng(7)
    db, db_lab, q, q_lab = tie_heavy_codes(rng, 1500, 50, 12)
    index = BinaryIndex(12, method='test', config_hash='abc')
    index.add(db, labels=np.eye(6, dtype=np.uint8)[db_lab],
              paths=[f'img_{i}.jpg' for i in range(len(db))])
    path = str(tmp_path / 'db.index.npz')
    index.save(path)
    loaded = BinaryIndex.load(path, num_bits=12, backend='exact')
    assert loaded.method == 'test' and loaded.config_hash == 'abc'
    np.testing.assert_array_equal(loaded.codes, pack_codes(db))
    np.testing.assert_array_equal(unpack_codes(loaded.codes, 12), db)
    assert loaded.paths[3] == 'img_3.jpg'
    k = 200
    res = loaded.search(q, k)
    ref_pos, ref_dist = hamming_ranking(q, db, topk=k)
    np.testing.assert_array_equal(res.positions, ref_pos)
    np.testing.assert_array_equal(res.distances, ref_dist)
    rel = db_lab[res.positions] == q_lab[:, None]
    hits = np.cumsum(rel, axis=1)
    ap = (hits / np.arange(1, k + 1) * rel).sum(1) / np.maximum(
        rel.sum(1), 1)
    engine = mean_average_precision(q, db, q_lab, db_lab, topk=k,
                                    tie_break='index')
    assert abs(ap.mean() - engine) < 1e-12


def test_add_rules():
    index = BinaryIndex(16, backend='exact')
    index.add(np.ones((3, 16)), paths=['a', 'b', 'c'])
    with pytest.raises(ValueError, match='paths'):
        index.add(np.ones((2, 16)))
    with pytest.raises(ValueError, match=r'\(n, 16\)'):
        index.add(np.ones((2, 12)))
    with pytest.raises(ValueError, match='-1 and \\+1'):
        index.add(np.zeros((2, 16), dtype=np.int64), paths=['d', 'e'])
    with pytest.raises(ValueError, match='backend'):
        BinaryIndex(16, backend='annoy')
    assert len(index) == 3
    assert index.search(np.ones((1, 16)), 2).distances.tolist() == [[0, 0]]


def test_hit_sort_key_and_fallback_agree():
    """The packed-key sort of radius hits and its np.lexsort fallback (for
    sizes whose key would overflow int64) give the same order."""
    from hashplugins.retrieval.binary_index import _sort_hits
    rng = np.random.default_rng(3)
    counts = rng.integers(0, 50, 20)
    lims = np.concatenate([[0], np.cumsum(counts)])
    pos = rng.integers(0, 1000, lims[-1])
    dist = rng.integers(0, 4, lims[-1])
    fast = _sort_hits(lims, pos, dist, 3, 1000)
    slow = _sort_hits(lims, pos, dist, 3, 1 << 61)
    rows = np.repeat(np.arange(20), counts)
    order = np.lexsort((pos, dist, rows))
    for got in (fast, slow):
        np.testing.assert_array_equal(got[0], pos[order])
        np.testing.assert_array_equal(got[1], dist[order])
