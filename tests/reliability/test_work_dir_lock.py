"""WorkDirLockHook (a default hook of default_runtime.py): a second run
into a live run's work_dir is refused, naming the holder; ``--resume``
with nothing to resume says so instead of silently starting over."""
import json
import os
import os.path as osp
import socket

import pytest

from harness import output, start_train, train
from hashplugins.engine.hooks.work_dir_lock_hook import _start_ticks
from test_checkpoint_faults import _config

pytestmark = pytest.mark.usefixtures('warm_runner')


def test_live_lock_is_refused_and_left_alone(tmp_path):
    work = tmp_path / 'work'
    work.mkdir()
    holder = dict(pid=os.getpid(), host=socket.gethostname(),
                  started='2026-01-01T00:00:00+00:00', command='other run',
                  pid_start=_start_ticks(os.getpid()), token='x')
    lock = work / 'run.lock'
    lock.write_text(json.dumps(holder))
    proc = start_train(_config(tmp_path, 'plain'), work)
    proc.join(120)
    log = output(proc)
    assert proc.exitcode == 1, log[-3000:]
    assert 'WorkDirLockedError' in log
    assert f'work_dir {work} is in use by another run' in log
    assert f'pid {os.getpid()} on host {holder["host"]}' in log
    assert 'command: other run' in log
    assert json.loads(lock.read_text()) == holder  # not taken over
    assert not list(work.glob('*.pth'))

    # the holder is gone (a pid that no longer runs): taken over, trained,
    # released
    holder['pid'], holder['pid_start'] = 2**22 + 12345, None
    lock.write_text(json.dumps(holder))
    log = train(_config(tmp_path, 'plain'), work)
    assert 'taking over a stale lock' in log
    assert osp.exists(work / 'epoch_3.pth') and not lock.exists()


def test_resume_with_nothing_to_resume(tmp_path):
    work = tmp_path / 'work'
    log = train(_config(tmp_path, 'plain'), work, '--resume')
    assert 'there is no checkpoint in work_dir' in log
    assert 'Auto resumed from the latest checkpoint None' not in log

    # checkpoints but no last_checkpoint: refused, naming them
    os.remove(work / 'last_checkpoint')
    proc = start_train(_config(tmp_path, 'plain'), work, '--resume')
    proc.join(120)
    log = output(proc)
    assert proc.exitcode == 1, log[-3000:]
    assert 'has no last_checkpoint file' in log
    assert str(work / 'epoch_3.pth') in log
