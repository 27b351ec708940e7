"""Refuse a checkpoint that does not fit the model, instead of loading the
tensors that happen to fit and warning about the rest."""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS

from ..runner.checkpoint import last_loaded_checkpoint


def _fits(saved_shape, model_shape) -> bool:
    """Equal shapes; a model dimension of size 0 (a buffer that resizes
    itself on load, e.g. DADH's code bank before a training set is
    attached) matches any size."""
    return len(saved_shape) == len(model_shape) and all(
        m == 0 or s == m for s, m in zip(saved_shape, model_shape))


def checkpoint_mismatch(state_dict: dict, model_state: dict):
    """Why ``state_dict`` does not fit ``model_state``, or None if it does.

    It does not fit when it shares no key with the model, or when a shared
    key has another shape. Keys only in one of them are left to mmengine
    (it warns), as partial loads are common (e.g. a checkpoint without an
    optional part).
    """
    state = {k[len('module.'):] if k.startswith('module.') else k: v
             for k, v in state_dict.items() if hasattr(v, 'shape')}
    common = [k for k in model_state if k in state]
    if not common:
        return (f'none of its {len(state)} tensors (e.g. {list(state)[:3]}) '
                f'is a parameter or buffer of the model (e.g. '
                f'{list(model_state)[:3]}): a checkpoint of another model?')
    bad = [(k, tuple(state[k].shape), tuple(model_state[k].shape))
           for k in common
           if not _fits(tuple(state[k].shape), tuple(model_state[k].shape))]
    if bad:
        shown = '; '.join(f'{k}: checkpoint {s} vs model {m}'
                          for k, s, m in bad[:3])
        return (f'{len(bad)} tensor(s) have other shapes than the model\'s '
                f'({shown}): another num_bits, num_classes or backbone?')
    return None


@HOOKS.register_module()
class CheckpointFitHook(Hook):
    """Raise a clear error when a loaded checkpoint (``load_from``,
    ``--resume``, ``tools/test.py CKPT``) does not fit the model.

    mmengine loads such a checkpoint non-strictly: it copies the tensors
    that fit, logs a warning for the rest, and trains or evaluates a model
    that is partly random. This hook raises ``ValueError`` naming the file,
    the first mismatching keys and both shapes instead.
    ``tools/train.py`` and ``tools/test.py`` add it unless the config sets
    ``checkpoint_fit_check = False``.
    """

    priority = 'VERY_LOW'  # after WeightsOnlyCheckpointHook's conversion

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        state = checkpoint.get('state_dict', checkpoint)
        problem = checkpoint_mismatch(state, model.state_dict())
        if problem:
            name = last_loaded_checkpoint() or 'the checkpoint'
            raise ValueError(
                f'{name} does not fit the model {type(model).__name__}: '
                f'{problem} Check the config (or set checkpoint_fit_check = '
                'False to load the matching tensors only).')
