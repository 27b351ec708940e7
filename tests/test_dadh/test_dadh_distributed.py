"""DADH under 2-process (gloo) training with MMSeparateDistributedDataParallel:
every rank ends a step with the same stream buffers (both ranks' batch rows),
the same network weights, and, after the hook's broadcast, the same B."""

import torch
import torch.distributed as dist
from mmengine.model import MMSeparateDistributedDataParallel
from mmengine.optim import OptimWrapper, OptimWrapperDict
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import hashplugins  # noqa: F401
from dist_helpers import run_ranks

N = 16


def _model():
    torch.manual_seed(0)
    stream = dict(backbone=dict(type='LeNet5'),
                  head=dict(type='HashHead', in_channels=120, num_bits=6,
                            activation='identity'))
    model = MODELS.build(dict(
        type='DualAsymmetricHasher', stream_f=stream, stream_g=stream,
        num_classes=3, alternation='joint',
        data_preprocessor=dict(type='ClsDataPreprocessor')))
    model.attach_training_set(
        torch.nn.functional.one_hot(torch.arange(N) % 3, 3).float())
    return model


def _batch(rank):
    indices = [rank * 4 + i for i in range(4)]  # rank 0: 0-3, rank 1: 4-7
    g = torch.Generator().manual_seed(rank)
    samples = [DataSample(metainfo=dict(sample_idx=i)).set_gt_label(i % 3)
               for i in indices]
    return dict(inputs=torch.rand(4, 1, 32, 32, generator=g) * 255,
                data_samples=samples), indices


def _worker(rank, port, queue):
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}',
                            rank=rank, world_size=2)
    torch.set_num_threads(1)
    model = _model()
    wrapped = MMSeparateDistributedDataParallel(model, broadcast_buffers=False)
    wrappers = OptimWrapperDict(**{
        f'stream_{name}': OptimWrapper(
            torch.optim.SGD(stream.parameters(), lr=0.1))
        for name, stream in model.streams.items()
    })
    data, _ = _batch(rank)
    wrapped.train_step(data, wrappers)
    stats = model.update_codes()
    if rank == 1:  # make B differ, as floating point could across ranks
        model.code_bank.codes.neg_()
    dist.broadcast(model.code_bank.codes, 0)  # what the hook does
    bank = model.code_bank
    state = dict(f=bank.outputs_f.clone(), g=bank.outputs_g.clone(),
                 codes=bank.codes.clone(), stats=stats,
                 weights=torch.cat([p.detach().flatten()
                                    for p in model.parameters()]))
    # plain lists: shared-memory tensors die with the worker process
    queue.put((rank, {k: v.tolist() if torch.is_tensor(v) else v
                      for k, v in state.items()}))
    dist.barrier()
    dist.destroy_process_group()


def test_two_ranks_keep_identical_buffers_weights_and_codes():
    states = dict(run_ranks(_worker, num_results=2))
    states = {r: {k: torch.tensor(v) if isinstance(v, list) else v
                  for k, v in state.items()} for r, state in states.items()}
    for key in ('f', 'g', 'codes', 'weights'):
        assert torch.equal(states[0][key], states[1][key]), key
    for key in ('f', 'g'):  # both ranks' batch rows, nothing else
        filled = states[0][key].abs().sum(1) > 0
        assert filled[:8].all() and not filled[8:].any(), key
    assert states[0]['stats']['objective_after'] <= states[0]['stats'][
        'objective_before']
