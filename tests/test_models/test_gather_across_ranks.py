"""Pairwise losses over the global batch under 2-process (gloo) training
give the same gradients as one process with the whole batch."""
import torch
import torch.distributed as dist
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import hashplugins  # noqa: F401
from dist_helpers import run_ranks

N, FEAT = 8, 6


def _head():
    torch.manual_seed(0)
    return MODELS.build(
        dict(type='HashHead', in_channels=FEAT, num_bits=12,
             losses=dict(pairwise=dict(type='PairwiseLogisticLoss'),
                         quant=dict(type='HashQuantizationLoss'))))


def _data():
    g = torch.Generator().manual_seed(1)
    feats = torch.randn(N, FEAT, generator=g)
    # rank 0's half has labels < 3 only, rank 1's up to 4: widths differ.
    labels = [i % 3 for i in range(N // 2)] + [i % 5 for i in range(N // 2)]
    return feats, labels


def _grads(head, feats, labels):
    samples = [DataSample().set_gt_label(y) for y in labels]
    losses = head.loss(feats, samples)
    sum(losses.values()).backward()
    return {k: p.grad.clone() for k, p in head.named_parameters()}


def _worker(rank, port, queue):
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}',
                            rank=rank, world_size=2)
    torch.set_num_threads(1)
    head = _head()
    feats, labels = _data()
    half = slice(rank * N // 2, (rank + 1) * N // 2)
    grads = _grads(head, feats[half], labels[half])
    for g in grads.values():  # DDP averages gradients over ranks
        dist.all_reduce(g)
        g /= 2
    if rank == 0:
        queue.put({k: g.numpy() for k, g in grads.items()})
    dist.barrier()
    dist.destroy_process_group()


def test_two_ranks_match_one_process_with_the_whole_batch():
    distributed, = run_ranks(_worker, num_results=1)
    single = _grads(_head(), *_data())
    for key, grad in single.items():
        torch.testing.assert_close(torch.from_numpy(distributed[key]), grad,
                                   rtol=1e-5,
                                   atol=1e-7, msg=key)


def test_single_process_gather_is_identity():
    from hashplugins.models.utils import gather_batch, pad_to_common_width
    x = torch.randn(3, 4)
    assert gather_batch(x) is x and pad_to_common_width(x) is x
