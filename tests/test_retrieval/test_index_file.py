"""Index files: round trip, atomic writes, clear errors for bad files."""
import json
import os

import numpy as np
import pytest

from hashplugins.evaluation.functional import save_codes
from hashplugins.retrieval import BinaryIndex, IndexFileError


@pytest.fixture
def saved(tmp_path):
    rng = np.random.default_rng(0)
    index = BinaryIndex(12, backend='exact', method='DPSH',
                        meta=dict(classes=['a', 'b']))
    index.add(rng.integers(0, 2, (50, 12)) * 2 - 1,
              ids=np.arange(100, 150),
              labels=np.eye(2, dtype=np.uint8)[rng.integers(0, 2, 50)])
    path = str(tmp_path / 'x.index.npz')
    index.save(path)
    return path, index


def rewrite(path, **changes):
    """Rewrite an index file with some keys replaced (None drops)."""
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    for key, value in changes.items():
        if value is None:
            arrays.pop(key)
        else:
            arrays[key] = value
    with open(path, 'wb') as f:
        np.savez(f, **arrays)


def test_round_trip_and_atomic(saved, tmp_path):
    path, index = saved
    assert os.listdir(tmp_path) == ['x.index.npz']  # no temporary left
    loaded = BinaryIndex.load(path)
    np.testing.assert_array_equal(loaded.codes, index.codes)
    np.testing.assert_array_equal(loaded.ids, np.arange(100, 150))
    np.testing.assert_array_equal(loaded.labels, index.labels)
    assert loaded.paths is None
    assert loaded.meta['classes'] == ['a', 'b']
    assert loaded.method == 'DPSH'
    with np.load(path, allow_pickle=False) as f:
        assert int(f['format_version']) == 1


def test_save_failure_leaves_old_file(saved, monkeypatch):
    path, index = saved
    before = open(path, 'rb').read()

    def boom(*args, **kwargs):
        raise OSError('disk full')

    monkeypatch.setattr(np, 'savez', boom)
    with pytest.raises(OSError, match='disk full'):
        index.save(path)
    assert open(path, 'rb').read() == before
    assert os.listdir(os.path.dirname(path)) == ['x.index.npz']


@pytest.mark.parametrize('change,message', [
    (dict(format_version=np.array(2)), 'format_version 2 is not supported'),
    (dict(format_version=None), 'format_version None is not supported'),
    (dict(format=np.array('something-else')), 'is not a hashplugins-index'),
    (dict(codes=None), r"missing key\(s\) \['codes'\]"),
    (dict(ids=np.arange(3)), 'ids must be an int64 array of shape'),
    (dict(codes=np.full((50, 2), 255, np.uint8)), 'non-zero padding bits'),
    (dict(codes=np.zeros((50, 3), np.uint8)), r'must be a \(n, 2\) uint8'),
    (dict(labels=np.full((50, 2), 3, np.uint8)), 'only 0 and 1'),
    (dict(meta=np.array('{not json')), 'is not JSON'),
    (dict(num_bits=np.array(16)), 'non-zero padding|num_bits disagrees'),
    (dict(ids=np.array([{'x': 1}] * 50, dtype=object)), 'pickled'),
])
def test_bad_content_is_refused(saved, change, message):
    path, _ = saved
    rewrite(path, **change)
    with pytest.raises(IndexFileError, match=message) as err:
        BinaryIndex.load(path)
    assert path in str(err.value)


def test_code_length_mismatch(saved):
    path, _ = saved
    with pytest.raises(IndexFileError,
                       match='holds 12-bit codes but 32-bit codes'):
        BinaryIndex.load(path, num_bits=32)


def test_truncated_garbage_and_missing(saved, tmp_path):
    path, _ = saved
    data = open(path, 'rb').read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])
    with pytest.raises(IndexFileError, match='truncated or corrupt') as err:
        BinaryIndex.load(path)
    assert path in str(err.value)
    junk = tmp_path / 'junk.npz'
    junk.write_bytes(b'not a zip at all')
    with pytest.raises(IndexFileError, match='junk.npz'):
        BinaryIndex.load(str(junk))
    with pytest.raises(FileNotFoundError, match='nope.npz'):
        BinaryIndex.load(str(tmp_path / 'nope.npz'))


def test_flipped_bytes_inside_member(saved):
    """Corruption inside the codes member: the zip CRC check catches it."""
    path, _ = saved
    data = bytearray(open(path, 'rb').read())
    start = data.find(b'codes.npy')
    assert start > 0
    payload = start + 200  # inside the array bytes after its header
    data[payload] ^= 0xFF
    with open(path, 'wb') as f:
        f.write(bytes(data))
    with pytest.raises(IndexFileError, match='corrupt|padding'):
        BinaryIndex.load(path)


def test_codes_file_is_not_an_index(tmp_path):
    path = str(tmp_path / 'codes.npz')
    codes = np.zeros((2, 1), np.uint8)
    save_codes(path, codes, codes, np.eye(2), np.eye(2), num_bits=8)
    with pytest.raises(IndexFileError, match='load_codes'):
        BinaryIndex.load(path)


def test_meta_is_json_object(saved):
    path, _ = saved
    rewrite(path, meta=np.array(json.dumps([1, 2])))
    with pytest.raises(IndexFileError, match='JSON object'):
        BinaryIndex.load(path)
