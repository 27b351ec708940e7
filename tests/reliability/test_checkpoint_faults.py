"""A kill or a full disk in the middle of a checkpoint save never loses the
last good checkpoint (AtomicCheckpointHook, the default_runtime.py
checkpoint hook), and ``--resume`` continues from it.

The runs are ``tools/train.py`` in forked children (harness.py). The only
stand-in is mmengine's own file writer, slowed in the child so that the
SIGKILL lands while a checkpoint's bytes are being written; our hooks run
unchanged. The full disk is real: a file size limit (``setrlimit``) or a
checkpoint file that is /dev/full.
"""
import glob
import os
import os.path as osp
import resource
import signal
import time

import pytest
from mmengine.config import Config
from mmengine.fileio.backends.local_backend import LocalBackend
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS

from harness import (REPO_ROOT, assert_same_tensors, checkpoint, output,
                     start_train, train, write_config)

pytestmark = pytest.mark.usefixtures('warm_runner')

PIPELINE = [dict(type='Resize', scale=(32, 32)),
            dict(type='PackHashInputs', num_classes=10)]


@HOOKS.register_module(force=True)
class SlowCheckpointWriteHook(Hook):
    """Test only: mmengine's ``LocalBackend.put`` writes half of a file
    whose name starts with ``name``, then writes ``marker`` and waits to be
    killed."""

    def __init__(self, name: str, marker: str):
        self.name, self.marker = name, marker

    def before_run(self, runner):
        put, name, marker = LocalBackend.put, self.name, self.marker

        def slow_put(backend, obj, filepath):
            if not osp.basename(str(filepath)).startswith(name):
                return put(backend, obj, filepath)
            with open(filepath, 'wb') as f:
                f.write(obj[:len(obj) // 2])
                f.flush()
                os.fsync(f.fileno())
                with open(marker, 'w') as m:
                    m.write(str(filepath))
                time.sleep(120)  # the test kills us here

        LocalBackend.put = slow_put


@HOOKS.register_module(force=True)
class NoRoomHook(Hook):
    """Test only: from the second epoch on, no checkpoint fits: a file
    size limit of half the first checkpoint (``EFBIG``; SIGXFSZ ignored, so
    the write fails instead of killing the process), or the second
    checkpoint's temporary file is /dev/full (``ENOSPC``)."""

    def __init__(self, mode: str):
        self.mode = mode

    def before_train_epoch(self, runner):
        if runner.epoch != 1:
            return
        first = osp.join(runner.work_dir, 'epoch_1.pth')
        if self.mode == 'EFBIG':
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
            resource.setrlimit(resource.RLIMIT_FSIZE,
                               (osp.getsize(first) // 2, hard))
        else:
            os.symlink('/dev/full', osp.join(
                runner.work_dir, f'epoch_2.pth.part-{os.getpid()}'))


def _config(tmp_path, name, *hooks, checkpoint_type=None):
    """DPSH-like LeNet5 on 64 digits, 2 iterations an epoch, 3 epochs, one
    checkpoint kept (the setting that lost everything before)."""
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'dpsh',
                                   'dpsh_lenet5_mnist5k_16bit.py'))
    cfg.merge_from_dict({
        'train_dataloader.batch_size': 32,
        'train_dataloader.dataset.indices': 64,
        'train_cfg.max_epochs': 3,
        'default_hooks.checkpoint.max_keep_ckpts': 1,
    })
    if checkpoint_type:
        cfg.default_hooks.checkpoint.type = checkpoint_type
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.custom_hooks = list(cfg.custom_hooks) + list(hooks)
    return write_config(cfg, tmp_path / f'{name}.py')


def _run_until(config, work_dir, marker, timeout=120):
    proc = start_train(config, work_dir)
    deadline = time.time() + timeout
    while not osp.exists(marker):
        assert proc.is_alive(), f'the run ended first\n{output(proc)[-3000:]}'
        assert time.time() < deadline, 'timed out waiting for the save'
        time.sleep(0.02)
    return proc


def _last_checkpoint(work_dir):
    with open(osp.join(str(work_dir), 'last_checkpoint')) as f:
        return f.read().strip()


def test_kill_during_save_keeps_the_previous_checkpoint(tmp_path):
    """SIGKILL while epoch 2's checkpoint is half written, with
    max_keep_ckpts=1: epoch_1.pth is whole and named by last_checkpoint,
    nothing is under epoch_2.pth, and --resume ends with the weights of a
    run that was never interrupted."""
    work, marker = tmp_path / 'work', str(tmp_path / 'writing')
    config = _config(tmp_path, 'slow', dict(
        type='SlowCheckpointWriteHook', name='epoch_2.pth', marker=marker))
    proc = _run_until(config, work, marker)
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(30)
    assert proc.exitcode == -signal.SIGKILL

    cut = open(marker).read()
    assert osp.basename(cut).startswith('epoch_2.pth.part-'), cut
    assert not osp.exists(work / 'epoch_2.pth')
    assert _last_checkpoint(work) == str(work / 'epoch_1.pth')
    assert checkpoint(work / 'epoch_1.pth')['meta']['epoch'] == 1
    assert osp.exists(work / 'run.lock')  # left by the killed run

    plain = _config(tmp_path, 'plain')
    log = train(plain, work, '--resume')
    assert 'resumed epoch: 1' in log, log[-3000:]
    assert 'taking over a stale lock' in log and f'pid {proc.pid}' in log
    assert f'Removed {cut}' in log
    assert glob.glob(str(work / '*.pth*')) == [str(work / 'epoch_3.pth')]
    assert not osp.exists(work / 'run.lock')

    train(plain, tmp_path / 'straight')
    a = checkpoint(work / 'epoch_3.pth')
    b = checkpoint(tmp_path / 'straight' / 'epoch_3.pth')
    assert_same_tensors(a['state_dict'], b['state_dict'], 'state_dict')
    assert_same_tensors(a['optimizer'], b['optimizer'], 'optimizer')


def test_stock_checkpoint_hook_loses_everything_in_the_same_kill(tmp_path):
    """The same kill under mmengine's CheckpointHook (why the default hook
    is AtomicCheckpointHook): epoch_1.pth was removed before epoch 2's was
    written, last_checkpoint names the removed file, and a cut epoch_2.pth
    looks complete. --resume now says so instead of failing later."""
    work, marker = tmp_path / 'work', str(tmp_path / 'writing')
    config = _config(tmp_path, 'stock', dict(
        type='SlowCheckpointWriteHook', name='epoch_2.pth', marker=marker),
        checkpoint_type='CheckpointHook')
    proc = _run_until(config, work, marker)
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(30)
    assert not osp.exists(work / 'epoch_1.pth')
    assert osp.exists(work / 'epoch_2.pth')  # half of it
    proc = start_train(_config(tmp_path, 'plain'), work, '--resume')
    proc.join(120)
    assert proc.exitcode == 1
    assert (f"{work / 'last_checkpoint'} names '{work / 'epoch_1.pth'}', "
            'which does not exist') in output(proc)


@pytest.mark.parametrize('mode', ['EFBIG', 'ENOSPC'])
def test_full_disk_during_save_is_a_clear_error(tmp_path, mode):
    """No room for epoch 2's checkpoint (file size limit, or a full
    device): the run stops with an error naming the file, the room needed
    and the room left; nothing partial is left under a checkpoint's name or
    a temporary one; epoch_1.pth and last_checkpoint are intact, and
    --resume (with room again) finishes the run."""
    work = tmp_path / 'work'
    proc = start_train(_config(tmp_path, 'full', dict(type='NoRoomHook',
                                                      mode=mode)), work)
    proc.join(120)
    log = output(proc)
    assert proc.exitcode == 1, log[-3000:]
    message = log.strip().splitlines()[-1]
    assert 'CheckpointWriteError' in message and mode in message, message
    assert f"could not write the checkpoint {work / 'epoch_2.pth'}" in message
    assert 'It needs about' in message and 'MB free on the disk' in message
    if mode == 'EFBIG':
        assert 'file size limit (ulimit -f)' in message
    assert f"last complete checkpoint {work / 'epoch_1.pth'}" in message
    assert not osp.exists(work / 'epoch_2.pth')
    assert not glob.glob(str(work / '*.part-*'))
    assert _last_checkpoint(work) == str(work / 'epoch_1.pth')
    assert checkpoint(work / 'epoch_1.pth')['meta']['epoch'] == 1

    log = train(_config(tmp_path, 'plain'), work, '--resume')
    assert 'resumed epoch: 1' in log
    assert checkpoint(work / 'epoch_3.pth')['meta']['epoch'] == 3
