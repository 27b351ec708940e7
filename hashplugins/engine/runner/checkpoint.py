"""Safe checkpoint loading for torch >= 2.6 with mmengine 0.10.7.

mmengine 0.10.7 calls ``torch.load(filename)`` for local files; under torch
>= 2.6 that means ``weights_only=True`` and mmengine's own checkpoints (which
pickle ``HistoryBuffer`` objects) fail to load (open-mmlab/mmengine#1655).
Allow-listing the globals they need would include ``builtins.getattr``,
which defeats the point of ``weights_only``.

Our policy:

* Every local checkpoint is loaded with ``weights_only=True``.
* Checkpoints written by runs that use :class:`WeightsOnlyCheckpointHook`
  (in ``configs/_base_/default_runtime.py``) hold only tensors and plain
  Python values, so they load safely, ``--resume`` included.
* A checkpoint that needs a full unpickle (e.g. one written by stock
  mmpretrain) is refused with a message naming the file. Full unpickling is
  an explicit choice for trusted files: ``--trust-checkpoint`` in our tools,
  ``HASHPLUGINS_TRUST_CHECKPOINTS=1`` in the environment, or
  :func:`trust_checkpoints` in Python.
"""
import os
import os.path as osp
import pickle

import torch
from mmengine.runner.checkpoint import CheckpointLoader

TRUST_ENV = 'HASHPLUGINS_TRUST_CHECKPOINTS'
_LAST_LOADED = [None]


def last_loaded_checkpoint():
    """Path of the checkpoint :func:`load_checkpoint_file` read last (for
    error messages of code that only sees the loaded dict)."""
    return _LAST_LOADED[0]


class UntrustedCheckpointError(RuntimeError):
    """A checkpoint needs a full unpickle, which was not allowed."""


def trust_checkpoints(enable: bool = True) -> None:
    """Allow (or forbid again) full unpickling of local checkpoints.

    The choice is stored in the environment so that data-loader workers and
    child processes inherit it.

    Args:
        enable (bool): Whether full unpickling is allowed. Only enable it for
            files you trust: unpickling can execute arbitrary code.
    """
    if enable:
        os.environ[TRUST_ENV] = '1'
    else:
        os.environ.pop(TRUST_ENV, None)


def checkpoints_trusted() -> bool:
    """Whether full unpickling of local checkpoints was explicitly allowed."""
    return os.environ.get(TRUST_ENV, '0').lower() in ('1', 'true', 'yes')


def _unreadable(filename: str, err: Exception) -> RuntimeError:
    return RuntimeError(
        f'{filename} is not a readable torch checkpoint (truncated or '
        f'corrupt?): {type(err).__name__}: {err}')


def load_checkpoint_file(filename: str, map_location=None):
    """Load a local checkpoint, safely unless trust was given explicitly.

    Args:
        filename (str): Path of the checkpoint file.
        map_location: As in :func:`torch.load`.

    Returns:
        dict: The loaded checkpoint.

    Raises:
        FileNotFoundError: If the file does not exist.
        UntrustedCheckpointError: If the file needs a full unpickle and
            trust was not given.
        RuntimeError: If the file is not a readable torch checkpoint.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint file {filename} can not be '
                                'found.')
    _LAST_LOADED[0] = filename
    try:
        return torch.load(
            filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        if 'Weights only load failed' not in str(err):
            raise _unreadable(filename, err) from err
        if not checkpoints_trusted():
            raise UntrustedCheckpointError(
                f'Refusing to unpickle {filename}: it holds objects that are '
                'not plain tensors/values, and unpickling them could run '
                'arbitrary code. If you trust this file, pass '
                '--trust-checkpoint to tools/train.py or tools/test.py, or '
                f'set {TRUST_ENV}=1. (torch said: '
                f'{str(err).splitlines()[0]})') from err
    except Exception as err:  # truncated zip, not a checkpoint at all...
        raise _unreadable(filename, err) from err
    return torch.load(filename, map_location=map_location, weights_only=False)


# Replace mmengine's loader for plain local paths (prefix '').
CheckpointLoader.register_scheme(
    prefixes='', loader=load_checkpoint_file, force=True)
