"""Refuse a checkpoint that does not fit the model, instead of loading the
tensors that happen to fit and warning about the rest."""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS

from ..runner.checkpoint import last_loaded_checkpoint
from ..runner.checkpoint_fit import (CheckpointMismatchError,  # noqa: F401
                                     check_checkpoint_fits,
                                     checkpoint_mismatch)


@HOOKS.register_module()
class CheckpointFitHook(Hook):
    """Raise a clear error when a loaded checkpoint (``load_from``,
    ``--resume``, ``tools/test.py CKPT``) does not fit the model.

    mmengine loads such a checkpoint non-strictly: it copies the tensors
    that fit, logs a warning for the rest, and trains or evaluates a model
    that is partly random. This hook raises
    :class:`~hashplugins.engine.runner.checkpoint_fit.CheckpointMismatchError`
    (a ``ValueError``) naming the file, the mismatching keys (other shapes,
    missing or unexpected) and the likely cause instead: the policy of
    :func:`~hashplugins.engine.runner.checkpoint_fit.checkpoint_mismatch`,
    which ``tools/encode.py`` and ``tools/retrieve.py`` apply too.
    ``tools/train.py`` and ``tools/test.py`` add it unless the config sets
    ``checkpoint_fit_check = False``.
    """

    priority = 'VERY_LOW'  # after WeightsOnlyCheckpointHook's conversion

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        check_checkpoint_fits(
            model, checkpoint, last_loaded_checkpoint() or 'the checkpoint',
            'Check the config (or set checkpoint_fit_check = False to load '
            'the matching tensors only).')
