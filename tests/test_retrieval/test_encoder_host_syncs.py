"""HashEncoder and RetrievalGridHook move each batch to the host at once.

On a GPU every host read of a CUDA tensor waits for the device, so the
number of reads per batch must not grow with the batch size. The model's
own forward is not counted here: only the encoding loop's handling of its
outputs (hash_encoder.py and the shared helpers it calls).
"""
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from encoder_helpers import lenet_items
from host_sync_helpers import count_host_syncs
from mmpretrain.structures import DataSample

from hashplugins.engine.hooks import RetrievalGridHook


def _loop_syncs(counts):
    """Syncs outside the model's own code."""
    return {k: v for k, v in counts.items() if not k.startswith('models/')}


@pytest.mark.parametrize('multi', [False, True])
def test_encoder_syncs_do_not_grow_with_batch(encoder, monkeypatch, multi):
    totals, outs = [], []
    for num in (4, 32):
        with count_host_syncs(monkeypatch) as counts:
            outs.append(
                encoder.encode_dataset(
                    lenet_items(num, multi),
                    split='all',
                    batch_size=num,
                    progress=False))
        totals.append(_loop_syncs(counts))
    assert sum(totals[1].values()) == sum(totals[0].values()), totals
    assert sum(totals[1].values()) <= 4, totals
    out = outs[1]
    assert out.codes.shape == (32, 16) and out.codes.dtype == np.int8
    expected = np.zeros_like(out.labels)
    for i, sample in enumerate(lenet_items(32, multi)):
        expected[i, sample['data_samples'].gt_label.numpy()] = 1
    np.testing.assert_array_equal(out.labels, expected)


def test_encoder_batches_agree(encoder):
    """Codes and labels do not depend on how the input is batched."""
    items = lenet_items(10, multi=True)
    whole = encoder.encode_dataset(
        items, split='all', batch_size=10, progress=False)
    parts = encoder.encode_dataset(
        items, split='all', batch_size=3, progress=False)
    np.testing.assert_array_equal(whole.codes, parts.codes)
    np.testing.assert_array_equal(whole.packed, parts.packed)
    np.testing.assert_array_equal(whole.labels, parts.labels)
    assert set(np.unique(whole.codes)) <= {-1, 1}


def _hook_outputs(num, multi, device='cpu'):
    rng = np.random.default_rng(num)
    samples = []
    for i in range(num):
        s = DataSample(
            metainfo=dict(
                sample_idx=i, split='query' if i < 2 else 'database'))
        s.set_gt_label(
            torch.tensor([i % 2, 2][:1 + (multi and i % 2)], device=device))
        s.set_field(
            torch.from_numpy(np.where(rng.random(16) < .5, -1.,
                                      1.)).float().to(device),
            'hash_code',
            field_type='data')
        samples.append(s)
    return samples


@pytest.mark.parametrize('multi', [False, True])
def test_grid_hook_syncs_do_not_grow_with_batch(monkeypatch, multi, device):
    totals = []
    for num in (4, 32):
        hook = RetrievalGridHook()
        outputs = _hook_outputs(num, multi, device)
        with count_host_syncs(monkeypatch) as counts:
            hook.after_val_iter(SimpleNamespace(), 0, None, outputs)
        totals.append(counts)
        assert len(hook._results) == num
        for r, s in zip(hook._results, outputs):
            assert r['sample_idx'] == s.sample_idx
            assert r['split'] == s.split and r['num_bits'] == 16
            np.testing.assert_array_equal(r['labels'],
                                          s.gt_label.cpu().numpy())
            assert r['labels'].dtype == np.int64
            np.testing.assert_array_equal(
                np.unpackbits(r['code']).astype(bool),
                s.hash_code.cpu().numpy() >= 0)
    assert sum(totals[1].values()) == sum(totals[0].values()), totals
    assert sum(totals[1].values()) <= 4, totals


def test_grid_hook_samples_without_labels():
    outputs = _hook_outputs(6, multi=True)
    for s in outputs[1::2]:
        del s.gt_label
    hook = RetrievalGridHook()
    hook.after_val_iter(SimpleNamespace(), 0, None, outputs)
    for r, s in zip(hook._results, outputs):
        if 'gt_label' in s:
            np.testing.assert_array_equal(r['labels'],
                                          s.gt_label.cpu().numpy())
        else:
            assert r['labels'] is None
