"""Checkpoints that never lose the last good state."""
import errno
import glob
import os
import os.path as osp
import shutil
from collections import deque
from typing import Optional

import torch
from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook
from mmengine.logging import print_log
from mmpretrain.registry import HOOKS

# A checkpoint is written as ``<name>.part-<pid>`` next to ``<name>``, then
# renamed: a file under a checkpoint's final name is always complete.
PART_INFIX = '.part-'
# Write errors that mean "no room": disk full, file size limit, quota.
_NO_ROOM = {errno.ENOSPC, errno.EFBIG, getattr(errno, 'EDQUOT', -1)}
_MB = float(1 << 20)


class CheckpointWriteError(OSError):
    """A checkpoint could not be written (no room on the disk, file size
    limit or quota); nothing was left under its final name."""


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:  # some file systems (and directories on some) refuse
        pass
    finally:
        os.close(fd)


def replace_atomically(tmp: str, final: str) -> None:
    """Rename ``tmp`` (complete, in the same folder) onto ``final``, after
    its bytes are on disk, so that a crash leaves the old or the new file
    under ``final``, never a cut one."""
    _fsync(tmp)
    os.replace(tmp, final)
    _fsync(osp.dirname(osp.abspath(final)))


def write_text_atomically(path: str, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    tmp = f'{path}{PART_INFIX}{os.getpid()}'
    try:
        with open(tmp, 'w') as f:
            f.write(text)
        replace_atomically(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _state_bytes(runner) -> int:
    """Bytes of the tensors a checkpoint of ``runner`` holds (model and
    optimizer states; a lower bound of the file size)."""
    total = 0

    def add(value):
        nonlocal total
        if isinstance(value, torch.Tensor):
            total += value.numel() * value.element_size()
        elif isinstance(value, dict):
            for v in value.values():
                add(v)
        elif isinstance(value, (list, tuple)):
            for v in value:
                add(v)

    model = getattr(runner.model, 'module', runner.model)
    add(model.state_dict())
    optim_wrapper = getattr(runner, 'optim_wrapper', None)
    if optim_wrapper is not None and hasattr(optim_wrapper, 'state_dict'):
        add(optim_wrapper.state_dict())
    return total


def _file_size_limit() -> Optional[int]:
    try:
        import resource
    except ImportError:  # not on POSIX
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    return None if soft == resource.RLIM_INFINITY else soft


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook`` that never loses the last good state.

    Same arguments and behaviour as :class:`mmengine.hooks.CheckpointHook`
    (``interval``, ``max_keep_ckpts``, ``save_best``, ``out_dir``...), but:

    * every checkpoint (periodic, latest re-save, best) is written to
      ``<name>.part-<pid>`` in the same folder, flushed to disk and renamed
      onto ``<name>``, so a file under a checkpoint's name is complete;
    * ``last_checkpoint`` is replaced atomically, after the checkpoint it
      names is in place;
    * older checkpoints (beyond ``max_keep_ckpts``, the previous best) are
      removed only after the new one is complete. mmengine removes them
      first: a kill during the save, with ``max_keep_ckpts=1``, lost all.
      While a save runs, the folder holds one checkpoint more than
      ``max_keep_ckpts``. A run killed between the rename and the removal
      records the old checkpoint as one to remove, and the resumed run
      removes it;
    * a write that fails for want of room (``ENOSPC``, ``EFBIG``,
      ``EDQUOT``) raises :class:`CheckpointWriteError` naming the file, the
      size needed and the room left; the partial file is removed;
    * ``*.part-<pid>`` files of dead processes (cut by a kill) are removed
      when training starts.

    Renames are only atomic on a local file system: for other backends
    (``backend_args`` to object stores) checkpoints are written in place,
    as mmengine does, but old ones are still removed only afterwards.
    ``configs/_base_/default_runtime.py`` uses this hook as
    ``default_hooks.checkpoint``.
    """

    _previous_ckpt: Optional[str] = None  # named by the no-room error

    def before_train(self, runner) -> None:
        super().before_train(runner)
        if not (self._local and is_main_process()):
            return
        for path in glob.glob(osp.join(glob.escape(self.out_dir),
                                       f'*{PART_INFIX}*')):
            pid = path.rsplit(PART_INFIX, 1)[1]
            if pid.isdigit() and _pid_alive(int(pid)) and \
                    int(pid) != os.getpid():
                continue  # a live process is writing it
            os.remove(path)
            runner.logger.info(f'Removed {path}, a checkpoint cut by a '
                               'killed run (never renamed into place).')

    @property
    def _local(self) -> bool:
        return isinstance(self.file_backend, LocalBackend)

    # ---- writing

    def _write(self, runner, filename: str, **kwargs) -> str:
        """Save a checkpoint of ``runner`` as ``out_dir/filename``; through
        a temporary name and a rename on local disks."""
        final = self.file_backend.join_path(self.out_dir, filename)
        if not self._local:
            runner.save_checkpoint(
                self.out_dir, filename, self.file_client_args,
                backend_args=self.backend_args, **kwargs)
            return final
        part_name = f'{filename}{PART_INFIX}{os.getpid()}'
        part = osp.join(self.out_dir, part_name)
        try:
            # Only the main process writes (Runner.save_checkpoint is
            # master_only); the others still go through the call.
            runner.save_checkpoint(
                self.out_dir, part_name, self.file_client_args,
                backend_args=self.backend_args, **kwargs)
            if is_main_process():
                replace_atomically(part, final)
        except OSError as err:
            self._discard(part)
            if err.errno in _NO_ROOM:
                raise self._no_room_error(runner, final, err) from err
            raise
        except BaseException:
            self._discard(part)
            raise
        return final

    @staticmethod
    def _discard(part: str) -> None:
        if is_main_process() and osp.exists(part):
            os.remove(part)

    def _no_room_error(self, runner, final: str,
                       err: OSError) -> CheckpointWriteError:
        """A message that names the file, the room needed and the room
        left, and says the last good checkpoint is intact."""
        previous = self._previous_ckpt
        need = _state_bytes(runner)
        if previous and osp.isfile(previous):
            need = max(need, osp.getsize(previous))
        free = shutil.disk_usage(self.out_dir).free
        room = f'{free / _MB:.1f} MB free on the disk of {self.out_dir}'
        limit = _file_size_limit()
        if limit is not None:
            room += f', file size limit (ulimit -f) {limit / _MB:.1f} MB'
        kept = (f'The last complete checkpoint {previous} and '
                'last_checkpoint are unchanged, so --resume continues from '
                'it.' if previous and osp.isfile(previous) else
                'No earlier checkpoint exists.')
        name = errno.errorcode.get(err.errno, str(err.errno))
        return CheckpointWriteError(
            err.errno,
            f'could not write the checkpoint {final}: {err.strerror} '
            f'({name}). It needs about {need / _MB:.1f} MB; {room}. Nothing '
            f'was left under {osp.basename(final)}. {kept} Free space (or '
            'raise the limit, or write checkpoints to a disk with room: '
            '--work-dir, default_hooks.checkpoint.out_dir), then resume.')

    def _write_last_checkpoint(self, runner) -> None:
        save_file = osp.join(runner.work_dir, 'last_checkpoint')
        try:
            write_text_atomically(save_file, self.last_ckpt)
        except OSError as err:
            if err.errno in _NO_ROOM:
                raise CheckpointWriteError(
                    err.errno,
                    f'could not update {save_file} (to name '
                    f'{self.last_ckpt}): {err.strerror}. It still names the '
                    'previous checkpoint; free space, then resume.') from err
            raise

    def _remove(self, runner, path: Optional[str]) -> None:
        if not (path and is_main_process()):
            return
        if self.file_backend.isfile(path):
            self.file_backend.remove(path)
        elif self.file_backend.isdir(path):  # deepspeed checkpoints
            self.file_backend.rmtree(path)

    # ---- mmengine's two save paths, with the removals after the write

    def _save_checkpoint_with_step(self, runner, step, meta):
        # As mmengine 0.10.7's, but old checkpoints go after the new one is
        # complete. The saved keep_ckpt_ids still list the one to remove,
        # so a run resumed from it removes that one if we die before.
        self._previous_ckpt = getattr(self, 'last_ckpt', None)
        outdated = []
        if self.max_keep_ckpts > 0:
            ids = list(self.keep_ckpt_ids)
            # the best-checkpoint path re-saves the same step
            if not ids or ids[-1] != step:
                ids.append(step)
                outdated = ids[:-self.max_keep_ckpts]
                runner.message_hub.update_info('keep_ckpt_ids', list(ids))
            kept = ids[-self.max_keep_ckpts:]

        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir,
                                                     ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        self._write(
            runner, ckpt_filename,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta, by_epoch=self.by_epoch, **self.args)

        if is_main_process():
            self._write_last_checkpoint(runner)
        if self.max_keep_ckpts > 0:
            for old in outdated:
                self._remove(runner, self.file_backend.join_path(
                    self.out_dir, self.filename_tmpl.format(old)))
            self.keep_ckpt_ids = deque(kept, self.max_keep_ckpts)
            runner.message_hub.update_info('keep_ckpt_ids', list(kept))

    def _save_best_checkpoint(self, runner, metrics) -> None:
        # As mmengine 0.10.7's, but the new best is written (atomically)
        # before the previous best is removed.
        if not self.save_best:
            return
        if self.by_epoch:
            ckpt_filename = self.filename_tmpl.format(runner.epoch)
            cur_type, cur_time = 'epoch', runner.epoch
        else:
            ckpt_filename = self.filename_tmpl.format(runner.iter)
            cur_type, cur_time = 'iter', runner.iter
        meta = dict(epoch=runner.epoch, iter=runner.iter)
        if 'auto' in self.key_indicators:
            self._init_rule(self.rules, [list(metrics.keys())[0]])

        best_ckpt_updated = False
        single = len(self.key_indicators) == 1
        for key_indicator, rule in zip(self.key_indicators, self.rules):
            key_score = metrics[key_indicator]
            if single:
                best_score_key, runtime_best_ckpt_key = ('best_score',
                                                         'best_ckpt')
                previous_best = self.best_ckpt_path
            else:
                best_score_key = f'best_score_{key_indicator}'
                runtime_best_ckpt_key = f'best_ckpt_{key_indicator}'
                previous_best = self.best_ckpt_path_dict[key_indicator]
            best_score = runner.message_hub.runtime_info.get(
                best_score_key, self.init_value_map[rule])
            if key_score is None or not self.is_better_than[key_indicator](
                    key_score, best_score):
                continue
            best_ckpt_updated = True
            best_score = key_score
            runner.message_hub.update_info(best_score_key, best_score)

            best_ckpt_name = f'best_{key_indicator}_{ckpt_filename}'
            best_ckpt_name = best_ckpt_name.replace('/', '_')
            best_path = self.file_backend.join_path(self.out_dir,
                                                    best_ckpt_name)
            if single:
                self.best_ckpt_path = best_path
            else:
                self.best_ckpt_path_dict[key_indicator] = best_path
            runner.message_hub.update_info(runtime_best_ckpt_key, best_path)
            self._previous_ckpt = previous_best
            self._write(
                runner, best_ckpt_name, save_optimizer=False,
                save_param_scheduler=False, meta=meta, by_epoch=False)
            runner.logger.info(
                f'The best checkpoint with {best_score:0.4f} {key_indicator} '
                f'at {cur_time} {cur_type} is saved to {best_ckpt_name}.')
            if previous_best and previous_best != best_path:
                self._remove(runner, previous_best)
                runner.logger.info(
                    f'The previous best checkpoint {previous_best} is '
                    'removed')

        # Re-save the latest checkpoint so that it records the new best (as
        # mmengine does; a resumed run can then remove the old best).
        if best_ckpt_updated and self.last_ckpt is not None:
            self._save_checkpoint_with_step(runner, cur_time, meta)
