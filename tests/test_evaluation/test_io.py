"""The codes file: round trip, atomic write, and clear errors."""
import os

import numpy as np
import pytest

from hashplugins.evaluation.functional import (load_codes, pack_codes,
                                               save_codes)


def _arrays(bits=12):
    rng = np.random.default_rng(0)
    q = pack_codes(rng.choice([-1, 1], size=(4, bits)))
    d = pack_codes(rng.choice([-1, 1], size=(9, bits)))
    ql = (rng.random((4, 3)) < 0.5).astype(np.uint8)
    dl = (rng.random((9, 3)) < 0.5).astype(np.uint8)
    return q, d, ql, dl


def test_round_trip(tmp_path):
    q, d, ql, dl = _arrays()
    path = str(tmp_path / 'sub' / 'codes.npz')
    save_codes(
        path,
        q,
        d,
        ql,
        dl,
        12,
        meta=dict(config='x.py'),
        db_index=np.arange(9) + 4)
    assert os.listdir(tmp_path / 'sub') == ['codes.npz']  # no temp left
    data = load_codes(path)
    np.testing.assert_array_equal(data.query_codes, q)
    np.testing.assert_array_equal(data.db_codes, d)
    np.testing.assert_array_equal(data.query_labels, ql)
    np.testing.assert_array_equal(data.db_labels, dl)
    np.testing.assert_array_equal(data.db_index, np.arange(9) + 4)
    np.testing.assert_array_equal(data.query_index, np.arange(4))
    assert data.num_bits == 12 and data.meta == dict(config='x.py')
    assert data.unpacked()[0].shape == (4, 12)


def _rewrite(path, out, **changes):
    with np.load(path) as archive:
        arrays = {k: archive[k] for k in archive.files}
    for key, value in changes.items():
        if value is None:
            del arrays[key]
        else:
            arrays[key] = value
    np.savez(out, **arrays)
    return str(out)


@pytest.mark.parametrize('changes, message', [
    (dict(format_version=np.array(2)), 'unsupported format_version 2'),
    (dict(format=np.array('other')), 'not a hashplugins-codes file'),
    (dict(query_labels=None), r"missing key\(s\) \['query_labels'\]"),
    (dict(database_labels=np.zeros((8, 3), np.uint8)),
     'database_labels has 8 rows for 9 codes'),
    (dict(query_labels=np.zeros((4, 5), np.uint8)),
     'query_labels has 5 classes but database_labels has 3'),
    (dict(num_bits=np.array(20)), 'query_codes must be a'),
    (dict(database_codes=np.full((9, 2), 255, np.uint8)), 'padding bits'),
    (dict(query_index=np.arange(3)), 'query_index must have shape'),
])
def test_errors_name_file_and_key(tmp_path, changes, message):
    q, d, ql, dl = _arrays()
    good = str(tmp_path / 'good.npz')
    save_codes(good, q, d, ql, dl, 12)
    bad = _rewrite(good, tmp_path / 'bad.npz', **changes)
    with pytest.raises(ValueError, match=message) as info:
        load_codes(bad)
    assert 'bad.npz' in str(info.value)


def test_not_a_codes_file(tmp_path):
    path = tmp_path / 'codes.npz'
    path.write_text('hello')
    with pytest.raises(ValueError, match='not a codes file'):
        load_codes(str(path))
    with pytest.raises(FileNotFoundError, match='missing.npz'):
        load_codes(str(tmp_path / 'missing.npz'))


def test_save_validates_and_leaves_nothing(tmp_path):
    q, d, ql, dl = _arrays()
    with pytest.raises(ValueError, match='query_labels has 3 rows'):
        save_codes(str(tmp_path / 'c.npz'), q, d, ql[:3], dl, 12)
    assert os.listdir(tmp_path) == []
