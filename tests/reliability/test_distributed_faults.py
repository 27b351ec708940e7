"""A failure on one rank ends a distributed job with a non-zero exit and
the failure's message, not a hang; a rank whose peer has vanished gives up
after HASHPLUGINS_DIST_TIMEOUT. (2-rank evaluation equal to 1-rank:
tests/test_evaluation/test_metric_distributed.py and
tests/test_tools/test_train_test_tools.py.)"""
import os
import os.path as osp
import time

from mmengine.config import Config

from dist_helpers import free_port
import fault_hooks  # noqa: F401  (registers RaiseOnRankHook)
from harness import REPO_ROOT, output, run_forked_ranks, start_train


def test_exception_on_one_rank_ends_the_job(tmp_path, warm_runner):
    """Rank 1 of a 2-rank gloo DPSH run (tools/train.py --launcher pytorch,
    the environment torchrun gives it) raises before iteration 2; rank 0
    is then in a collective. Both ranks must exit non-zero, rank 1 with its
    message, well inside the 120 s bound, with no launcher agent to kill
    the waiting rank (torchrun's agent would, in addition)."""
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'dpsh',
                                   'dpsh_lenet5_mnist5k_16bit.py'))
    cfg.merge_from_dict({
        'train_dataloader.batch_size': 16,
        'train_dataloader.dataset.indices': 128,
        'train_cfg.max_epochs': 1,
        'custom_hooks': [dict(type='WeightsOnlyCheckpointHook'),
                         dict(type='RaiseOnRankHook', rank=1, at_iter=2)],
    })
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    config = str(tmp_path / 'fail_on_rank1.py')
    cfg.dump(config)
    port, start = str(free_port()), time.time()
    procs = [start_train(config, tmp_path / 'work', '--launcher', 'pytorch',
                         env=dict(RANK=str(r), LOCAL_RANK=str(r),
                                  WORLD_SIZE='2', MASTER_ADDR='127.0.0.1',
                                  MASTER_PORT=port,
                                  HASHPLUGINS_DIST_TIMEOUT='60'))
             for r in range(2)]
    for proc in procs:
        proc.join(max(1, 120 - (time.time() - start)))
    alive = [proc.is_alive() for proc in procs]
    for proc in procs:
        if proc.is_alive():
            proc.kill()
    assert alive == [False, False], 'a rank hung'
    assert [proc.exitcode for proc in procs] == [1, 1], [
        output(proc)[-2000:] for proc in procs]
    assert 'injected failure on rank 1 at iteration 2' in output(procs[1])


def _silent_peer(rank, world_size, port, done):
    import torch
    import torch.distributed as dist

    from hashplugins.engine.runner import dist_timeout
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=world_size,
                            timeout=dist_timeout())
    dist.barrier()
    if rank == 1:  # alive, but never joins the all_reduce below
        deadline = time.time() + 60
        while not osp.exists(done) and time.time() < deadline:
            time.sleep(0.1)
        return 'waited'
    start = time.time()
    try:
        dist.all_reduce(torch.ones(1))
        result = 'no error'
    except Exception as err:  # noqa: B902  (gloo raises RuntimeError)
        result = f'{time.time() - start:.1f}s {type(err).__name__}: {err}'
    open(done, 'w').close()
    return result


def test_collective_without_its_peer_fails_after_the_timeout(
        monkeypatch, tmp_path):
    """A rank stuck in a collective whose peer never joins (alive but
    stuck elsewhere: no connection is closed, nobody kills it) gives up
    after HASHPLUGINS_DIST_TIMEOUT seconds (default 1800) with an error."""
    monkeypatch.setenv('HASHPLUGINS_DIST_TIMEOUT', '2')
    rank0, rank1 = run_forked_ranks(_silent_peer, 2,
                                    str(tmp_path / 'done'), timeout=60)
    assert rank1 == 'waited'
    assert 'no error' not in rank0, rank0
    seconds = float(rank0.split('s ', 1)[0])
    assert 1.5 <= seconds < 20, rank0
