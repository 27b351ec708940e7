"""Stop, or skip, a training step whose loss is NaN or infinite."""
import logging
from typing import Dict, List

import torch
import torch.distributed as dist
from torch.nn.modules.batchnorm import _NormBase
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.optim import OptimWrapperDict
from mmpretrain.registry import HOOKS

POLICIES = ('stop', 'skip')


class NonFiniteLossError(FloatingPointError):
    """A loss became NaN or infinite and the policy is ``'stop'``."""


def nonfinite_loss_names(log_vars: Dict[str, torch.Tensor]) -> List[str]:
    """Names of the loss terms in ``log_vars`` that are NaN or infinite.

    Only keys containing ``'loss'`` count (those are what mmengine's
    ``parse_losses`` sums and backpropagates). The total ``'loss'`` is
    named only when no single term is (e.g. ``inf + -inf``).
    """
    keys = [k for k, v in log_vars.items()
            if 'loss' in k and isinstance(v, torch.Tensor)]
    if not keys:
        return []
    finite = torch.isfinite(torch.stack(
        [log_vars[k].detach().float().reshape(()) for k in keys])).tolist()
    bad = [k for k, ok in zip(keys, finite) if not ok]
    terms = [k for k in bad if k != 'loss']
    return terms or bad


def _any_rank(flag: bool, device) -> bool:
    """Whether ``flag`` is True on any rank (every rank gets the answer)."""
    if not (dist.is_available() and dist.is_initialized()
            and dist.get_world_size() > 1):
        return flag
    if dist.get_backend() != 'gloo' and torch.cuda.is_available():
        device = torch.device('cuda', torch.cuda.current_device())
    value = torch.tensor([int(flag)], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Guard every optimizer step against NaN/inf losses.

    At ``before_train`` it wraps the model's ``parse_losses`` and every optim
    wrapper's ``update_params`` (single wrappers and each entry of an
    :class:`OptimWrapperDict`, so it covers the default ``train_step`` and
    multi-optimizer ``train_step`` s such as HashingGAN's and DADH's, which
    all call ``parse_losses`` then ``update_params`` per optimizer). When a
    loss term is NaN or infinite on any rank (the ranks agree through one
    tiny all-reduce per step, so they act together instead of one rank
    hanging in the next collective):

    * ``policy='stop'`` (default) raises :class:`NonFiniteLossError` naming
      the term(s) (``log_vars`` keys), the iteration and the epoch, *before*
      the backward pass: weights and optimizer state are those of the last
      good step, and no checkpoint is written from the bad state.
    * ``policy='skip'`` logs a warning and skips that ``update_params``
      call entirely (no backward, no ``optimizer.step()``: a zero-gradient
      step would still move weights through momentum, Adam moments and
      weight decay), so weights and optimizer state stay bit-identical;
      the running statistics of normalization layers are put back to
      their values at the start of the iteration (the bad forward pass
      updated them). The LR schedule still advances. After
      ``max_consecutive_skips`` bad steps in a row it stops as ``'stop'``
      does, so a run that has diverged for good does not silently train
      on nothing.

    ``tools/train.py`` adds this hook to every run (policy from the
    config's top-level ``nonfinite_loss`` key, default ``'stop'``) unless
    the config lists it in ``custom_hooks`` itself.

    Args:
        policy (str): ``'stop'`` or ``'skip'``. Defaults to 'stop'.
        max_consecutive_skips (int): See above. Defaults to 10.
    """

    priority = 'VERY_HIGH'

    def __init__(self, policy: str = 'stop', max_consecutive_skips: int = 10):
        if policy not in POLICIES:
            raise ValueError(f'NonFiniteLossHook: policy must be one of '
                             f'{POLICIES}, got {policy!r} (config key '
                             'nonfinite_loss)')
        if max_consecutive_skips < 1:
            raise ValueError('NonFiniteLossHook: max_consecutive_skips must '
                             f'be >= 1, got {max_consecutive_skips}')
        self.policy = policy
        self.max_consecutive_skips = max_consecutive_skips
        self.skipped_steps = 0
        self._consecutive = 0
        self._skip_next = False
        self._norm_buffers, self._norm_sources = {}, {}

    # ------------------------------------------------------------------
    def before_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        # Normalization layers' running statistics (small), restored when a
        # step is skipped.
        self._norm_sources = {
            f'{name}.{key}': buf
            for name, module in model.named_modules()
            if isinstance(module, _NormBase)
            for key, buf in module.named_buffers(recurse=False)
        } if self.policy == 'skip' else {}
        parse_losses = model.parse_losses

        def guarded_parse_losses(losses):
            parsed, log_vars = parse_losses(losses)
            self._check(runner, log_vars, parsed)
            return parsed, log_vars

        model.parse_losses = guarded_parse_losses
        wrappers = runner.optim_wrapper
        if isinstance(wrappers, OptimWrapperDict):
            wrappers = list(wrappers.values())
        else:
            wrappers = [wrappers]
        for wrapper in wrappers:
            wrapper.update_params = self._guard(wrapper.update_params)

    def _guard(self, update_params):

        def guarded_update_params(*args, **kwargs):
            if self._skip_next:
                self._skip_next = False
                return None
            return update_params(*args, **kwargs)

        return guarded_update_params

    def _check(self, runner, log_vars, parsed) -> None:
        self._skip_next = False
        bad = nonfinite_loss_names(log_vars)
        if not _any_rank(bool(bad), parsed.device):
            return
        where = (f'iteration {runner.iter + 1} (epoch {runner.epoch + 1}; '
                 'both 1-based, as in the training log)')
        values = ', '.join(f'{k}={float(log_vars[k].detach()):g}' for k in bad)
        what = (f'non-finite loss {values}' if bad else
                'non-finite loss on another rank')
        self._consecutive += 1
        if self.policy == 'stop' or (self._consecutive >
                                     self.max_consecutive_skips):
            reason = ('' if self.policy == 'stop' else
                      f' after {self.max_consecutive_skips} consecutive '
                      'skipped steps')
            raise NonFiniteLossError(
                f'{what} at {where}; training stopped{reason} before the '
                'optimizer step, so weights and optimizer states are those '
                'of the last good step. Lower the learning rate or check '
                "the data; set nonfinite_loss='skip' in the config to skip "
                'such steps instead.')
        self.skipped_steps += 1
        self._skip_next = True
        with torch.no_grad():
            for key, buf in self._norm_sources.items():
                buf.copy_(self._norm_buffers[key])
        print_log(
            f'{what} at {where}: skipping this optimizer step (weights and '
            f'optimizer state unchanged; {self.skipped_steps} skipped so '
            'far)', logger='current', level=logging.WARNING)

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        for key, buf in self._norm_sources.items():
            if key in self._norm_buffers:
                self._norm_buffers[key].copy_(buf)
            else:
                self._norm_buffers[key] = buf.detach().clone()

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        if not self._skip_next and outputs is not None:
            # an iteration that reached here without a pending skip
            if not nonfinite_loss_names(outputs):
                self._consecutive = 0
        self._skip_next = False
