"""Two-process (gloo) evaluation over an odd number of samples, sharded as
mmengine's DefaultSampler(round_up=True) shards it, equals the
single-process result exactly."""
import json
import math
import os
import sys

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from dist_helpers import free_port

from hashplugins.evaluation.metrics import HammingRetrievalMetric

from .synthetic import make_problem, metric_samples

CFG = dict(
    items=('mAP', 'MAP@H', 'P@H', 'P@N'),
    topk=(None, 9),
    radius=2,
    precision_at=(4, ),
    tie_break='average',
    zero_hit='exclude')
WORLD = 2


def shard(num, rank, world):
    """DefaultSampler(shuffle=False, round_up=True) indices of ``rank``:
    pad by repeating the first indices, then take every world-th."""
    total = math.ceil(num / world) * world
    indices = (list(range(num)) * (total // num + 1))[:total]
    return indices[rank:total:world]


def _worker(rank, port, samples, collect_dir, out_dir):
    dist.init_process_group(
        'gloo',
        init_method=f'tcp://127.0.0.1:{port}',
        rank=rank,
        world_size=WORLD)
    try:
        metric = HammingRetrievalMetric(collect_dir=collect_dir, **CFG)
        mine = [samples[i] for i in shard(len(samples), rank, WORLD)]
        for i in range(0, len(mine), 3):  # batches of 3
            metric.process(None, mine[i:i + 3])
        result = metric.evaluate(len(samples))
        with open(os.path.join(out_dir, f'rank{rank}.json'), 'w') as f:
            json.dump(result, f)
    finally:
        dist.destroy_process_group()


@pytest.mark.skipif(not dist.is_available(), reason='no torch.distributed')
def test_two_process_evaluation_equals_single_process(tmp_path):
    q, d, ql, dl = make_problem(
        11, 16, num_query=13, num_db=64, multi_label=True)
    samples = metric_samples(q, d, ql, dl)
    assert len(samples) % 2 == 1  # the sampler pads one duplicate
    single = HammingRetrievalMetric(**CFG)
    single.process(None, samples)
    expected = single.evaluate(len(samples))

    # fork: the children inherit the imported modules (spawn would spend
    # ~10 s re-importing mmpretrain); fall back to spawn where unavailable.
    method = 'fork' if sys.platform.startswith('linux') else 'spawn'
    mp.start_processes(
        _worker,
        args=(free_port(), samples, str(tmp_path / 'collect'), str(tmp_path)),
        nprocs=WORLD,
        start_method=method)
    for rank in range(WORLD):
        with open(tmp_path / f'rank{rank}.json') as f:
            assert json.load(f) == expected
    assert torch.is_tensor(samples[0]['hash_code'])  # inputs untouched
