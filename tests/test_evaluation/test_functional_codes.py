"""Codes, packing, Hamming distances, relevance and input validation."""
import numpy as np
import pytest
import torch

from hashplugins.evaluation.functional import (binarize, hamming_distance,
                                               label_matrix,
                                               mean_average_precision,
                                               pack_codes, relevance_matrix,
                                               unpack_codes)
from hashplugins.evaluation.functional import hamming as hamming_module
from hashplugins.evaluation.functional.codes import check_packed


@pytest.mark.parametrize('bits', [1, 7, 8, 12, 48, 64, 65, 128, 300])
def test_pack_unpack_round_trip(bits):
    rng = np.random.default_rng(bits)
    codes = rng.choice([-1, 1], size=(9, bits)).astype(np.int8)
    packed = pack_codes(codes)
    assert packed.dtype == np.uint8 and packed.shape == (9, (bits + 7) // 8)
    np.testing.assert_array_equal(unpack_codes(packed, bits), codes)
    np.testing.assert_array_equal(pack_codes(torch.from_numpy(codes)), packed)


def test_binarize_semantics():
    floats = np.array([[-0.5, 0.0, 0.3, -0.0]])
    np.testing.assert_array_equal(binarize(floats), [[0, 1, 1, 1]])
    assert binarize(torch.tensor([[0.0, -1e-9]])).tolist() == [[True, False]]
    np.testing.assert_array_equal(
        binarize(np.array([[True, False]])), [[1, 0]])
    with pytest.raises(ValueError, match='0/1 bits'):
        binarize(np.array([[0, 1, 1]]))
    with pytest.raises(ValueError, match='NaN'):
        binarize(np.array([[np.nan, 1.0]]))
    with pytest.raises(ValueError, match='2-D'):
        binarize(np.ones(4))


def test_check_packed_rejects_bad_input():
    packed = pack_codes(np.ones((2, 12)))
    with pytest.raises(ValueError, match='padding'):
        check_packed(packed | np.uint8(1), 12)
    with pytest.raises(ValueError, match=r'\(n, 2\) uint8'):
        check_packed(packed.astype(np.int32), 12)
    with pytest.raises(ValueError, match='num_bits'):
        check_packed(packed, 0)


@pytest.mark.parametrize('bits', [8, 12, 64, 128, 300])
def test_hamming_distance_numpy_torch_and_fallback(bits, monkeypatch):
    rng = np.random.default_rng(bits)
    q = rng.choice([-1.0, 1.0], size=(5, bits))
    d = rng.choice([-1.0, 1.0], size=(40, bits))
    expected = (q[:, None, :] != d[None, :, :]).sum(axis=2)
    got = hamming_distance(q, d)
    assert got.dtype == (np.uint8 if bits <= 255 else np.int16)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(
        hamming_distance(torch.from_numpy(q), torch.from_numpy(d)).numpy(),
        expected)
    # numpy < 2 has no bitwise_count: the byte-table path must agree.
    monkeypatch.setattr(hamming_module, '_HAS_BITWISE_COUNT', False)
    np.testing.assert_array_equal(hamming_distance(q, d), expected)


def test_relevance_and_labels():
    q = np.array([[1, 0, 1], [0, 0, 0], [0, 1, 0]])
    d = np.array([[0, 0, 1], [1, 1, 0], [0, 0, 0]])
    np.testing.assert_array_equal(relevance_matrix(q, d), (q @ d.T) > 0)
    # Single-label ids, ids vs one-hot, and many classes (several words).
    ids_q, ids_d = np.array([2, 0]), np.array([0, 2, 2, 1])
    expected = ids_q[:, None] == ids_d[None, :]
    np.testing.assert_array_equal(relevance_matrix(ids_q, ids_d), expected)
    np.testing.assert_array_equal(
        relevance_matrix(ids_q, label_matrix(ids_d, 3)), expected)
    rng = np.random.default_rng(0)
    big_q = (rng.random((6, 150)) < 0.02).astype(np.uint8)
    big_d = (rng.random((30, 150)) < 0.02).astype(np.uint8)
    np.testing.assert_array_equal(
        relevance_matrix(big_q, big_d), (big_q.astype(int) @ big_d.T) > 0)
    with pytest.raises(ValueError, match='only 0 and 1'):
        label_matrix(np.array([[0, 2]]))
    with pytest.raises(ValueError, match='num_classes is 2'):
        label_matrix(np.array([0, 2]), num_classes=2)
    with pytest.raises(ValueError, match='negative'):
        label_matrix(np.array([0, -1]))


def test_input_errors_name_the_problem():
    q, d = np.ones((3, 8)), np.ones((5, 8))
    ql, dl = np.zeros(3, int), np.zeros(5, int)
    with pytest.raises(ValueError, match='16 bits but database codes have 8'):
        mean_average_precision(np.ones((3, 16)), d, ql, dl)
    with pytest.raises(ValueError, match='4 database labels for 5'):
        mean_average_precision(q, d, ql, dl[:4])
    with pytest.raises(ValueError, match='empty'):
        mean_average_precision(q[:0], d, ql[:0], dl)
    with pytest.raises(ValueError, match='tie_break'):
        mean_average_precision(q, d, ql, dl, tie_break='random')
    with pytest.raises(ValueError, match='zero_hit'):
        mean_average_precision(q, d, ql, dl, zero_hit='drop')
    with pytest.raises(ValueError, match='topk'):
        mean_average_precision(q, d, ql, dl, topk=0)
    with pytest.raises(
            ValueError, match='have 3 classes but database labels have 4'):
        mean_average_precision(q, d, np.zeros((3, 3)), np.zeros((5, 4)))
