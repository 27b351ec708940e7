"""The one checkpoint-fit policy of every tool: a checkpoint must fit the
model exactly (same keys, same shapes), or it is refused with the file, the
keys and the likely cause named.

mmengine loads ``load_from`` / ``--resume`` / ``tools/test.py CKPT``
non-strictly: it copies the tensors that fit, logs a warning for the rest,
and trains or evaluates a partly random model (measured: a checkpoint whose
hash layer was renamed scored mAP 0.53 instead of 0.81, exit 0).
:class:`~hashplugins.engine.hooks.CheckpointFitHook` applies this policy to
the Runner's loads; :func:`load_fitting_checkpoint` to everything else
(``tools/encode.py``, ``tools/retrieve.py``).
"""
from typing import Optional

import torch.nn as nn
from mmengine.runner.checkpoint import _load_checkpoint_to_model

from .checkpoint import load_checkpoint_file

#: Buffers a checkpoint may lack: BatchNorm's step counter, which old
#: checkpoints do not have and PyTorch itself fills in.
_OPTIONAL_SUFFIXES = ('num_batches_tracked', )


class CheckpointMismatchError(ValueError):
    """A checkpoint does not fit the model it is loaded into."""


def _fits(saved_shape, model_shape) -> bool:
    """Equal shapes; a model dimension of size 0 (a buffer that resizes
    itself on load, e.g. DADH's code bank before a training set is
    attached) matches any size."""
    return len(saved_shape) == len(model_shape) and all(
        m == 0 or s == m for s, m in zip(saved_shape, model_shape))


def _some(keys, n=3) -> str:
    keys = list(keys)
    more = f' and {len(keys) - n} more' if len(keys) > n else ''
    return ', '.join(keys[:n]) + more


def checkpoint_mismatch(state_dict: dict, model_state: dict) -> Optional[str]:
    """Why ``state_dict`` does not fit ``model_state``, or None if it does.

    It does not fit when it shares no key with the model, when a shared key
    has another shape, when a key of the model is missing from it (except
    BatchNorm's ``num_batches_tracked``), or when it holds a key the model
    does not have. Keys prefixed ``module.`` (a DDP-wrapped model) count
    without the prefix, as mmengine loads them.
    """
    state = {k[len('module.'):] if k.startswith('module.') else k: v
             for k, v in state_dict.items() if hasattr(v, 'shape')}
    common = [k for k in model_state if k in state]
    if not common:
        return (f'none of its {len(state)} tensors (e.g. {list(state)[:3]}) '
                f'is a parameter or buffer of the model (e.g. '
                f'{list(model_state)[:3]}): a checkpoint of another model?')
    problems = []
    bad = [(k, tuple(state[k].shape), tuple(model_state[k].shape))
           for k in common
           if not _fits(tuple(state[k].shape), tuple(model_state[k].shape))]
    if bad:
        shown = '; '.join(f'{k}: checkpoint {s} vs model {m}'
                          for k, s, m in bad[:3])
        problems.append(
            f'{len(bad)} tensor(s) have other shapes than the model\'s '
            f'({shown}): another num_bits, num_classes or backbone?')
    missing = [k for k in model_state if k not in state
               and not k.endswith(_OPTIONAL_SUFFIXES)]
    unexpected = [k for k in state if k not in model_state]
    if missing and unexpected:
        problems.append(
            f'{len(missing)} key(s) of the model are not in the checkpoint '
            f'({_some(missing)}) and {len(unexpected)} of its keys are not '
            f'in the model ({_some(unexpected)}): modules named differently '
            '(another head or model type, or a checkpoint of an older '
            'version?)')
    elif missing:
        problems.append(
            f'{len(missing)} key(s) of the model are not in the checkpoint '
            f'({_some(missing)}): a checkpoint of part of the model (a '
            'backbone? load that through the backbone\'s init_cfg=dict('
            "type='Pretrained', checkpoint=...)) or of a smaller model?")
    elif unexpected:
        problems.append(
            f'{len(unexpected)} of its keys are not in the model '
            f'({_some(unexpected)}): a checkpoint of a larger model (extra '
            'heads, a discriminator)?')
    return '; '.join(problems) if problems else None


def check_checkpoint_fits(model: nn.Module, checkpoint: dict, filename: str,
                          fix: str) -> None:
    """Raise :class:`CheckpointMismatchError` when ``checkpoint`` (a loaded
    checkpoint dict, or a bare state dict) does not fit ``model``.

    Args:
        model: The model (not a DDP wrapper).
        checkpoint: ``{'state_dict': ...}`` or a state dict.
        filename: The checkpoint's file, for the message.
        fix: What the user can do, appended to the message.
    """
    state = checkpoint.get('state_dict', checkpoint)
    problem = checkpoint_mismatch(state, model.state_dict())
    if problem:
        raise CheckpointMismatchError(
            f'{filename} does not fit the model {type(model).__name__}: '
            f'{problem} {fix}')


def load_fitting_checkpoint(model: nn.Module, filename: str,
                            fix: Optional[str] = None) -> dict:
    """Load ``filename`` (safely, :func:`load_checkpoint_file`) into
    ``model`` if it fits exactly, else raise
    :class:`CheckpointMismatchError` naming the file, the keys and the
    likely cause. Returns the loaded checkpoint."""
    checkpoint = load_checkpoint_file(filename, map_location='cpu')
    if not isinstance(checkpoint, dict):
        raise CheckpointMismatchError(
            f'{filename} holds a {type(checkpoint).__name__}, not a '
            'checkpoint dict (state_dict, meta, ...)')
    check_checkpoint_fits(
        model, checkpoint, filename, fix or
        'Give the config the checkpoint was trained with.')
    _load_checkpoint_to_model(model, checkpoint, strict=True)
    return checkpoint
