"""Say which optimizer and parameter-scheduler settings ``--resume`` took
from the checkpoint instead of the config.

mmengine's resume loads the optimizer's state dict, whose parameter groups
carry ``lr``, ``momentum``, ``weight_decay``, ``betas``, ... and the
schedulers' state dicts, which carry their settings (``milestones``,
``T_max``, ``gamma``, ...): a config changed before ``--resume`` is silently
overridden (measured: lr 0.05 in the config, 0.01 used).
"""
from mmengine.hooks import Hook
from mmengine.optim import OptimWrapper, OptimWrapperDict
from mmpretrain.registry import HOOKS

from ..runner.checkpoint import last_loaded_checkpoint

# Parameter-group entries that are not hyper-parameters.
_NOT_HYPER = {'params', 'foreach', 'capturable', 'differentiable', 'fused'}
# Scheduler entries that are progress, not settings (base_values: the
# optimizer's initial_<param>, compared there).
_PROGRESS = {'last_step', 'base_values', 'verbose', 'optimizer'}


def _optimizers(optim_wrapper):
    if isinstance(optim_wrapper, OptimWrapperDict):
        return [(f'optim_wrapper.{name}', wrapper.optimizer)
                for name, wrapper in optim_wrapper.items()]
    if isinstance(optim_wrapper, OptimWrapper):
        return [('optim_wrapper', optim_wrapper.optimizer)]
    return []  # not built (a test or val run)


def _schedulers(schedulers):
    """The built schedulers (a list, or a dict of lists for several
    optimizers); configs (not built: a test or val run) give none."""
    if isinstance(schedulers, dict) and all(
            isinstance(g, (list, tuple)) for g in schedulers.values()):
        found = [(f'param_scheduler.{name}[{i}]', s)
                 for name, group in schedulers.items()
                 for i, s in enumerate(group)]
    elif isinstance(schedulers, (list, tuple)):
        found = [(f'param_scheduler[{i}]', s)
                 for i, s in enumerate(schedulers)]
    else:
        return []
    return [(where, s) for where, s in found
            if not isinstance(s, dict) and hasattr(s, 'state_dict')]


def settings(runner) -> dict:
    """``{(where, key): value}`` of the optimizers' hyper-parameters per
    parameter group and the schedulers' settings. A scheduled value counts
    by its base (``initial_lr`` for ``lr``): the current one moves with the
    schedule."""
    out = {}
    for where, optimizer in _optimizers(runner.optim_wrapper):
        for i, group in enumerate(optimizer.param_groups):
            for key, value in group.items():
                if key in _NOT_HYPER or key.startswith('initial_') or (
                        key == 'betas' and 'initial_momentum' in group):
                    continue  # (a momentum schedule moves Adam's betas)
                base = group.get(f'initial_{key}')
                label = key if base is None else f'{key} (base)'
                out[(f'{where} param group {i}',
                     label)] = value if base is None else base
    for where, scheduler in _schedulers(runner.param_schedulers):
        for key, value in scheduler.state_dict().items():
            if key in _PROGRESS or key.startswith('_'):
                continue
            out[(f'{where} ({type(scheduler).__name__})', key)] = value
    return out


def _same(a, b) -> bool:
    try:
        return bool(a == b)
    except Exception:  # tensors, arrays: compare their text
        return repr(a) == repr(b)


@HOOKS.register_module()
class ResumeOverrideHook(Hook):
    """Warn, when a run resumes, about every optimizer hyper-parameter and
    parameter-scheduler setting whose config value the checkpoint's
    replaced.

    The values from the config are read when the checkpoint has been read
    (``after_load_checkpoint``, before mmengine loads the optimizer and the
    schedulers), the values in force when training starts
    (``before_train``). ``load_from`` without resume loads weights only, so
    it never warns. A default hook of ``configs/_base_/default_runtime.py``
    (``default_hooks.resume_override``).
    """

    priority = 'VERY_LOW'

    def __init__(self):
        self._config = None
        self._checkpoint = None

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if not _optimizers(runner.optim_wrapper):
            return  # not training (tools/test.py): nothing is resumed
        if 'optimizer' in checkpoint or 'param_schedulers' in checkpoint:
            self._config = settings(runner)
            self._checkpoint = last_loaded_checkpoint() or 'the checkpoint'

    def before_train(self, runner) -> None:
        if self._config is None:
            return
        config, self._config = self._config, None
        used = settings(runner)
        changed = [(where, key, value, used[(where, key)])
                   for (where, key), value in config.items()
                   if (where, key) in used and
                   not _same(value, used[(where, key)])]
        if not changed:
            return
        lines = '; '.join(f'{where}: {key} {cfg!r} in the config, '
                          f'{ckpt!r} from the checkpoint'
                          for where, key, cfg, ckpt in changed)
        if any(key == 'end' for _, key, _, _ in changed):
            # the usual case: max_epochs raised to train on
            lines += (' (a scheduler without end in the config ends at '
                      'train_cfg.max_epochs / max_iters: with the '
                      'checkpoint\'s end it stops there)')
        runner.logger.warning(
            f'--resume from {self._checkpoint} overrode the config\'s '
            f'optimizer/scheduler settings with the checkpoint\'s (the '
            f'checkpoint\'s are used): {lines}. To train with the config\'s '
            'values, start a new run from the checkpoint\'s weights '
            '(load_from=CHECKPOINT without --resume), or set them back in '
            'the config.')
