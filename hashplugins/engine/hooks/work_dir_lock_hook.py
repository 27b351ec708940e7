"""One training run per work_dir, and a plain answer when ``--resume``
finds nothing to resume."""
import atexit
import datetime
import glob
import json
import logging
import os
import os.path as osp
import shlex
import socket
import sys
import uuid
from typing import Optional

from mmengine.dist import broadcast_object_list, get_rank, get_world_size
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.runner import BaseLoop
from mmpretrain.registry import HOOKS

LOCK_NAME = 'run.lock'


class WorkDirLockedError(RuntimeError):
    """Another live run holds the work_dir's lock."""


def _proc_stat(pid: int) -> Optional[list]:
    """Fields of ``/proc/<pid>/stat`` after the command name (state is
    [0], start time [19]), or None where there is no /proc entry."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()
    except (OSError, IndexError):
        return None


def _start_ticks(pid: int) -> Optional[str]:
    stat = _proc_stat(pid)
    return stat[19] if stat and len(stat) > 19 else None


def _holder_alive(holder: dict) -> bool:
    """Whether the process a lock names still runs (on this host)."""
    pid = holder.get('pid')
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        pass
    stat = _proc_stat(pid)
    if stat is None:  # no /proc (macOS): trust kill(0)
        return True
    if stat[0] == 'Z':  # killed, not yet reaped by its parent
        return False
    # Another process may have got the pid since the holder died.
    started = holder.get('pid_start')
    return started is None or started == _start_ticks(pid)


def _read(path: str) -> Optional[dict]:
    """The lock's content; None if it vanished, {} if unreadable."""
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        return None
    try:
        holder = json.loads(text)
    except ValueError:
        return {}
    return holder if isinstance(holder, dict) else {}


def _create_exclusive(path: str, text: str) -> None:
    """Create ``path`` holding ``text``; FileExistsError if it exists.

    Written under a temporary name and hard-linked into place, so no
    other process ever reads a half-written lock.
    """
    tmp = f'{path}.{os.getpid()}.{uuid.uuid4().hex[:8]}'
    with open(tmp, 'w') as f:
        f.write(text)
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise
    except OSError:  # no hard links on this file system
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        with os.fdopen(fd, 'w') as f:
            f.write(text)
    finally:
        os.remove(tmp)


def _describe(holder: dict) -> str:
    return (f"pid {holder.get('pid')} on host {holder.get('host')}, "
            f"started {holder.get('started')}, command: "
            f"{holder.get('command')}")


@HOOKS.register_module()
class WorkDirLockHook(Hook):
    """Let one training run own its work_dir; check what ``--resume`` has.

    At the start of training (``before_run`` of ``Runner.train``; not for
    ``val``/``test``, which only read checkpoints) rank 0 creates
    ``work_dir/run.lock`` holding its pid, host, start time and command,
    and removes it when training ends (also at interpreter exit after an
    exception). A second run into the same work_dir would overwrite the
    first one's checkpoints and ``last_checkpoint``; it is refused with
    :class:`WorkDirLockedError` naming the lock's holder, on every rank. A
    lock whose process no longer runs on this host (killed, crashed, or
    its pid taken by another process since) is taken over with a warning.
    A lock from another host cannot be checked and is refused: delete it
    if that run is gone.

    With ``resume=True`` and no ``load_from`` (``tools/train.py
    --resume``), mmengine resumes from the file ``work_dir/last_checkpoint``
    names; without one it logged "Auto resumed from the latest checkpoint
    None." and trained from scratch. Here:

    * no ``last_checkpoint`` and no ``*.pth`` in work_dir: one warning
      line says so, and training starts from scratch (so a job script can
      always pass ``--resume``, as pre-empted cluster jobs do);
    * no ``last_checkpoint`` but ``*.pth`` files: refused, naming them
      (starting over would overwrite them); pass one with
      ``--resume PATH``;
    * ``last_checkpoint`` names a file that does not exist: refused,
      naming both.

    ``configs/_base_/default_runtime.py`` lists it in ``default_hooks``
    (key ``work_dir_lock``), so every entry point that builds a Runner from
    a hashplugins config gets it.

    Args:
        lock (bool): Take the lock. False keeps only the resume check (for
            file systems where a stale lock cannot be told from a live one,
            e.g. pid namespaces that share a work_dir). Defaults to True.
    """

    priority = 'VERY_HIGH'  # before any other hook touches the work_dir

    def __init__(self, lock: bool = True):
        self.lock = lock
        self._path = None
        self._token = None

    def before_run(self, runner) -> None:
        # Runner.train builds its loop before 'before_run'; val()/test()
        # do not, and they may read a live run's checkpoints.
        if not isinstance(runner._train_loop, BaseLoop):
            return
        if self.lock:
            self._acquire(runner)
        self._check_resume(runner)

    def after_run(self, runner) -> None:
        self._release()

    # ---- the lock

    def _acquire(self, runner) -> None:
        error = None
        if get_rank() == 0:
            try:
                self._take(runner.work_dir)
            except WorkDirLockedError as err:
                error = str(err)
        if get_world_size() > 1:  # every rank stops, not only rank 0
            box = [error]
            broadcast_object_list(box, src=0)
            error = box[0]
        if error is not None:
            raise WorkDirLockedError(error)

    def _take(self, work_dir: str) -> None:
        path = osp.join(work_dir, LOCK_NAME)
        token = uuid.uuid4().hex
        mine = dict(
            pid=os.getpid(), host=socket.gethostname(),
            started=datetime.datetime.now().astimezone().isoformat(
                timespec='seconds'),
            command=shlex.join([sys.executable, *sys.argv]),
            work_dir=osp.abspath(work_dir), pid_start=_start_ticks(
                os.getpid()), token=token)
        for _ in range(3):  # a stale lock removed, or one that vanished
            try:
                _create_exclusive(path, json.dumps(mine, indent=1) + '\n')
            except FileExistsError:
                pass
            else:
                self._path, self._token = path, token
                atexit.register(self._release)
                return
            holder = _read(path)
            if holder is None:
                continue
            if not holder:
                raise WorkDirLockedError(
                    f'work_dir {work_dir} has a lock file {path} that is not '
                    'one of ours (unreadable). If no run uses this '
                    'work_dir, delete it; otherwise use another --work-dir.')
            if holder.get('host') != mine['host']:
                raise WorkDirLockedError(
                    f'work_dir {work_dir} is in use by another run '
                    f'({path}: {_describe(holder)}); it runs on another '
                    'host, so this one cannot tell whether it is still '
                    'alive. Wait for it to end or train into another '
                    '--work-dir; if that run is gone, delete '
                    f'{path} and start again.')
            # the same pid: a run of this process that raised (no after_run)
            if holder.get('pid') != mine['pid'] and _holder_alive(holder):
                raise WorkDirLockedError(
                    f'work_dir {work_dir} is in use by another run '
                    f'({path}: {_describe(holder)}). Two runs in one '
                    "work_dir overwrite each other's checkpoints and "
                    'last_checkpoint. Wait for it to end, or train into '
                    'another --work-dir (to continue that run after it '
                    'ends: --resume).')
            if _read(path) == holder:  # unchanged: nobody took it over
                try:
                    os.remove(path)
                except FileNotFoundError:
                    pass
            print_log(
                f'{path}: taking over a stale lock ({_describe(holder)}): '
                'that process no longer runs.',
                logger='current', level=logging.WARNING)
        raise WorkDirLockedError(
            f'could not take the lock {path}: other runs keep taking it')

    def _release(self) -> None:
        path, self._path = self._path, None
        if path is None:
            return
        holder = _read(path)
        if holder and holder.get('token') == self._token:
            os.remove(path)

    # ---- --resume with nothing to resume

    @staticmethod
    def _check_resume(runner) -> None:
        if not runner._resume or runner._load_from is not None:
            return
        work_dir = runner.work_dir
        last = osp.join(work_dir, 'last_checkpoint')
        if osp.isfile(last):
            with open(last) as f:
                target = f.read().strip()
            if '://' not in target and not osp.isfile(target):
                raise FileNotFoundError(
                    f'resume=True (--resume): {last} names {target!r}, '
                    'which does not exist. Resume from a checkpoint that '
                    'does: --resume PATH (or resume=True, load_from=PATH), '
                    f'e.g. one of {_checkpoints(work_dir) or "none"}.')
            return
        found = _checkpoints(work_dir)
        if found:
            raise FileNotFoundError(
                f'resume=True (--resume): {work_dir} has no last_checkpoint '
                f'file, so the checkpoint to resume from is unknown, but it '
                f'holds {found}. Starting over would overwrite them: '
                f'resume from one explicitly, e.g. --resume {found[-1]}, or '
                'train into another --work-dir.')
        print_log(
            f'resume=True (--resume): there is no checkpoint in work_dir '
            f'{work_dir} (no last_checkpoint file): starting from scratch.',
            logger='current', level=logging.WARNING)
        # What mmengine's load_or_resume reads: nothing to resume, so that
        # it does not log "Auto resumed from the latest checkpoint None."
        runner._resume = False


def _checkpoints(work_dir: str) -> list:
    """The ``*.pth`` files of work_dir, oldest first."""
    return sorted(glob.glob(osp.join(glob.escape(work_dir), '*.pth')),
                  key=osp.getmtime)
