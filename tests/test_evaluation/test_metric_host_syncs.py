"""HammingRetrievalMetric.process moves each batch to the host at once.

On a GPU every host read of a CUDA tensor waits for the device, so the
number of reads per ``process`` call must not grow with the batch size.
"""
import numpy as np
import pytest
import torch
from host_sync_helpers import count_host_syncs
from mmpretrain.structures import DataSample

from hashplugins.evaluation.metrics import HammingRetrievalMetric

from .synthetic import make_problem, metric_samples


def _samples(num, multi, as_data_sample=False, device='cpu'):
    q, d, ql, dl = make_problem(
        3, 20, num_query=num // 2, num_db=num - num // 2, multi_label=multi)
    samples = metric_samples(q, d, ql, dl)
    for s in samples:
        s['hash_code'] = s['hash_code'].to(device)
        s['gt_label'] = s['gt_label'].to(device)
    if not as_data_sample:
        return samples
    out = []
    for s in samples:
        ds = DataSample().set_gt_label(s['gt_label'])
        ds.set_field(s['hash_code'], 'hash_code')
        ds.set_metainfo(dict(split=s['split'], sample_idx=s['sample_idx']))
        out.append(ds)
    return out


def _syncs_per_process(monkeypatch, samples):
    metric = HammingRetrievalMetric()
    with count_host_syncs(monkeypatch) as counts:
        metric.process(None, samples)
    return sum(counts.values()), counts, metric.results


@pytest.mark.parametrize('as_data_sample', [False, True])
@pytest.mark.parametrize('multi', [False, True])
def test_host_syncs_do_not_grow_with_batch(monkeypatch, multi, as_data_sample,
                                           device):
    small, counts_small, _ = _syncs_per_process(
        monkeypatch, _samples(4, multi, as_data_sample, device))
    large, counts_large, results = _syncs_per_process(
        monkeypatch, _samples(32, multi, as_data_sample, device))
    assert len(results) == 32
    want = HammingRetrievalMetric()
    want.process(None, _samples(32, multi, as_data_sample))  # on the CPU
    for a, b in zip(results, want.results):
        np.testing.assert_array_equal(a['code'], b['code'])
        np.testing.assert_array_equal(a['labels'], b['labels'])
    assert large == small, (counts_small, counts_large)
    assert large <= 4, counts_large


def test_batched_results_match_per_sample_entries():
    """One entry per sample, in the format compute_metrics and mmengine's
    cross-rank collection expect; a batch and single-sample batches give
    the same entries."""
    samples = _samples(12, multi=True)
    samples[3]['gt_label'] = torch.zeros(0, dtype=torch.int64)  # no label
    batched, single = HammingRetrievalMetric(), HammingRetrievalMetric()
    batched.process(None, samples)
    for s in samples:
        single.process(None, [s])
    assert len(batched.results) == len(single.results) == 12
    for got, want, s in zip(batched.results, single.results, samples):
        assert set(got) == {
            'code', 'num_bits', 'labels', 'split', 'sample_idx'
        }
        assert got['code'].dtype == np.uint8 and got['code'].shape == (3, )
        assert got['labels'].dtype == np.int64 and got['labels'].ndim == 1
        np.testing.assert_array_equal(got['code'], want['code'])
        np.testing.assert_array_equal(got['labels'], want['labels'])
        np.testing.assert_array_equal(got['labels'], s['gt_label'].numpy())
        assert (got['num_bits'], got['split'], got['sample_idx']) == \
            (20, s['split'], s['sample_idx'])
        np.testing.assert_array_equal(
            np.unpackbits(got['code'], count=20).astype(bool),
            s['hash_code'].numpy() >= 0)


def test_numpy_and_list_values_in_a_batch():
    """Arrays and lists (not only tensors) still work, mixed in a batch."""
    samples = _samples(6, multi=True)
    mixed = [dict(s) for s in samples]
    mixed[1]['hash_code'] = mixed[1]['hash_code'].numpy()
    mixed[2]['hash_code'] = mixed[2]['hash_code'].tolist()
    mixed[4]['gt_label'] = mixed[4]['gt_label'].numpy()
    mixed[5]['gt_label'] = mixed[5]['gt_label'].tolist()
    want, got = HammingRetrievalMetric(), HammingRetrievalMetric()
    want.process(None, samples)
    got.process(None, mixed)
    for a, b in zip(got.results, want.results):
        np.testing.assert_array_equal(a['code'], b['code'])
        np.testing.assert_array_equal(a['labels'], b['labels'])
        assert a['labels'].dtype == np.int64


def test_errors_name_the_sample_in_a_batch():
    samples = _samples(8, multi=False)
    bad = [dict(s) for s in samples]
    bad[5]['gt_label'] = torch.tensor([0., 1., 1.])
    with pytest.raises(
            ValueError,
            match=f'gt_label of sample {samples[5]["sample_idx"]}'
            ' must be class indices'):
        HammingRetrievalMetric().process(None, bad)
    bad = [dict(s) for s in samples]
    bad[6]['split'] = 'gallery'
    with pytest.raises(
            ValueError,
            match=f'sample {samples[6]["sample_idx"]}'
            " has 'gallery'"):
        HammingRetrievalMetric().process(None, bad)
    bad = [dict(s) for s in samples]
    del bad[2]['hash_code']
    with pytest.raises(KeyError, match='"hash_code"'):
        HammingRetrievalMetric().process(None, bad)
    bad = [dict(s) for s in samples]
    bad[1]['hash_code'] = torch.full((20, ), float('nan'))
    with pytest.raises(ValueError, match='NaN'):
        HammingRetrievalMetric().process(None, bad)


def test_half_precision_codes():
    """AMP codes (bfloat16 has no numpy dtype) give the float32 entries."""
    samples = _samples(8, multi=False)
    want, got = HammingRetrievalMetric(), HammingRetrievalMetric()
    want.process(None, samples)
    for dtype in (torch.float16, torch.bfloat16):
        got.results.clear()
        got.process(
            None,
            [dict(s, hash_code=s['hash_code'].to(dtype)) for s in samples])
        for a, b in zip(got.results, want.results):
            np.testing.assert_array_equal(a['code'], b['code'])
