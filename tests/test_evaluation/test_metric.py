"""HammingRetrievalMetric: registry, per-sample collection, ordering by
sample_idx, names, files, and errors."""
import inspect
import json
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmengine.logging import MessageHub
from mmpretrain.registry import METRICS
from mmpretrain.structures import DataSample

from hashplugins.evaluation.curves import load_record
from hashplugins.evaluation.functional import (hamming_retrieval_metrics,
                                               load_codes)
from hashplugins.evaluation.metrics import HammingRetrievalMetric
from hashplugins.evaluation.metrics import hamming_retrieval

from .synthetic import make_problem, metric_samples

CFG = dict(
    items=('mAP', 'MAP@H', 'P@H', 'R@H', 'P@N'),
    topk=(None, 10),
    radius=2,
    precision_at=(5, 50))


def _plain(q, d, ql, dl, items, **kwargs):
    """The functional layer's numbers (it calls ``items`` ``metrics``)."""
    out = hamming_retrieval_metrics(q, d, ql, dl, metrics=items, **kwargs)
    return {f'hashing/{k}': v for k, v in out.items()}


def _run(metric, samples, batch=4):
    for i in range(0, len(samples), batch):
        metric.process(None, samples[i:i + batch])
    return metric.evaluate(len(samples))


@pytest.mark.parametrize('multi', [False, True])
@pytest.mark.parametrize('policies', [('zero', 'index'),
                                      ('exclude', 'average')])
def test_matches_functional_layer(multi, policies):
    zero_hit, tie_break = policies
    q, d, ql, dl = make_problem(
        5, 16, num_query=11, num_db=70, multi_label=multi)
    metric = METRICS.build(
        dict(
            type='HammingRetrievalMetric',
            zero_hit=zero_hit,
            tie_break=tie_break,
            **CFG))
    got = _run(metric, metric_samples(q, d, ql, dl))
    assert got == _plain(
        q, d, ql, dl, zero_hit=zero_hit, tie_break=tie_break, **CFG)
    assert list(got) == [
        'hashing/mAP@all', 'hashing/mAP@10', 'hashing/MAP@H<=2',
        'hashing/P@H<=2', 'hashing/R@H<=2', 'hashing/P@5', 'hashing/P@50'
    ]


def test_order_comes_from_sample_idx_and_zero_maps_to_plus_one():
    q, d, ql, dl = make_problem(6, 12, num_query=8, num_db=50)
    samples = metric_samples(q, d, ql, dl)
    # The network's sign may output exact zeros: they mean +1.
    for s in samples:
        s['hash_code'] = torch.where(s['hash_code'] > 0, 0.0, -0.7)
    expected = _run(HammingRetrievalMetric(**CFG), samples)
    rng = np.random.default_rng(0)
    shuffled = [samples[i] for i in rng.permutation(len(samples))]
    assert _run(HammingRetrievalMetric(**CFG), shuffled) == expected
    assert expected == _plain(q, d, ql, dl, **CFG)


def test_data_samples_through_evaluator():
    q, d, ql, dl = make_problem(7, 8, num_query=6, num_db=30)
    samples = []
    for s in metric_samples(q, d, ql, dl):
        ds = DataSample().set_gt_label(s['gt_label'])
        ds.set_field(s['hash_code'], 'hash_code')
        ds.set_metainfo(dict(split=s['split'], sample_idx=s['sample_idx']))
        samples.append(ds)
    evaluator = Evaluator(HammingRetrievalMetric(**CFG))
    evaluator.process(samples[:10])
    evaluator.process(samples[10:])
    got = evaluator.evaluate(len(samples))
    assert got == _plain(q, d, ql, dl, **CFG)


def test_writes_codes_and_curves(tmp_path, monkeypatch):
    # A fresh message hub: an earlier Runner test leaves one whose 'iter'
    # would name the curve files after its training step.
    MessageHub.get_instance(f'test_writes_codes_and_curves_{id(tmp_path)}')
    logged = []
    monkeypatch.setattr(hamming_retrieval, 'print_log',
                        lambda msg, **kw: logged.append(msg))
    q, d, ql, dl = make_problem(
        8, 16, num_query=9, num_db=40, multi_label=True)
    out_file = str(tmp_path / 'codes.npz')
    metric = HammingRetrievalMetric(
        items=('mAP', 'PR'),
        out_dir=str(tmp_path),
        out_file=out_file,
        pr_topn=(1, 5, 40))
    samples = metric_samples(q, d, ql, dl)
    got = _run(metric, samples)
    _run(metric, samples)  # a second evaluation: semantics logged once
    assert sum('tie_break' in m for m in logged) == 1
    assert list(got) == ['hashing/mAP@all']
    codes = load_codes(out_file)
    np.testing.assert_array_equal(codes.unpacked()[0], q)
    np.testing.assert_array_equal(codes.db_labels, dl)
    np.testing.assert_array_equal(codes.db_index, np.arange(9, 49))
    record = load_record(str(tmp_path / 'pr_curves' / 'hashing_eval_1.json'))
    assert record['metrics'] == {'mAP@all': got['hashing/mAP@all']}
    assert len(record['pr_by_radius']['radius']) == 17
    assert record['pr_by_topn']['n'] == [1, 5, 40]
    assert osp.getsize(tmp_path / 'pr_curves' / 'hashing_eval_2.png') > 0
    with open(tmp_path / 'pr_curves' / 'hashing_eval_2.json') as f:
        assert json.load(f)['num_database'] == 40


def test_no_metrics_argument():
    # mmengine's Runner takes an evaluator dict with a ``metrics`` key for an
    # Evaluator config, so the metric's own list is called ``items``.
    assert 'metrics' not in inspect.signature(
        HammingRetrievalMetric).parameters


def test_errors():
    q, d, ql, dl = make_problem(9, 8, num_query=4, num_db=10)
    samples = metric_samples(q, d, ql, dl)
    with pytest.raises(ValueError, match='must be one of'):
        HammingRetrievalMetric(items=('mAP', 'NDCG'))
    with pytest.raises(ValueError, match='tie_break'):
        HammingRetrievalMetric(tie_break='random')
    with pytest.raises(KeyError, match='"split"'):
        HammingRetrievalMetric().process(None, [{
            k: v
            for k, v in samples[0].items() if k != 'split'
        }])
    with pytest.raises(ValueError, match="'gallery'"):
        HammingRetrievalMetric().process(None,
                                         [dict(samples[0], split='gallery')])
    with pytest.raises(ValueError, match='must be class indices'):
        HammingRetrievalMetric().process(
            None, [dict(samples[0], gt_label=torch.tensor([0., 1., 1.]))])
    with pytest.raises(ValueError, match='no database samples'):
        _run(HammingRetrievalMetric(), samples[:4])
    with pytest.raises(ValueError, match=r'sample_idx \[3\]'):
        _run(HammingRetrievalMetric(), samples + samples[3:4])
    with pytest.raises(ValueError, match='num_classes is 2'):
        _run(HammingRetrievalMetric(num_classes=2), samples)


def test_inside_a_runner(tmp_path):
    """mmengine's Runner builds the metric from a config dict (default
    scope mmpretrain), feeds it DataSamples, and the PR curves land in the
    runner's log directory."""
    import glob

    from mmengine.model import BaseModel
    from mmengine.runner import Runner

    class Codes(BaseModel):
        """Returns the input codes as hash codes."""

        def forward(self, inputs, data_samples=None, mode='tensor'):
            for code, sample in zip(inputs, data_samples):
                sample.set_field(code, 'hash_code')
            return data_samples

    q, d, ql, dl = make_problem(12, 16, num_query=7, num_db=30)
    dataset = []
    for s in metric_samples(q, d, ql, dl):
        ds = DataSample().set_gt_label(s['gt_label'])
        ds.set_metainfo(dict(split=s['split'], sample_idx=s['sample_idx']))
        dataset.append(dict(inputs=s['hash_code'], data_samples=ds))
    runner = Runner(
        model=Codes(),
        work_dir=str(tmp_path),
        default_scope='mmpretrain',
        val_dataloader=dict(
            dataset=dataset,
            sampler=dict(type='DefaultSampler', shuffle=False),
            batch_size=4,
            collate_fn=dict(type='pseudo_collate')),
        val_cfg=dict(),
        val_evaluator=dict(
            type='HammingRetrievalMetric',
            **dict(CFG, items=CFG['items'] + ('PR', )),
            pr_topn=(1, 10)),
        default_hooks=dict(logger=dict(type='LoggerHook', interval=1)))
    assert runner.val() == _plain(q, d, ql, dl, **CFG)  # curves not logged
    written = glob.glob(osp.join(runner.log_dir, 'pr_curves', '*'))
    assert sorted(osp.basename(f) for f in written) == [
        'hashing_val_eval_1.json', 'hashing_val_eval_1.png'
    ]
