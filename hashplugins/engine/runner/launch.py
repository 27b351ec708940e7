"""Launch helpers shared by ``tools/train.py`` and ``tools/test.py``.

They carry the fixes the pinned stack (torch 2.13 + mmengine 0.10.7) needs:
CPU distributed runs through torchrun/gloo, ``--amp`` that works with
single and dict optim wrappers and falls back to bfloat16 on CPU, and a
clean exit code for distributed CPU jobs.
"""
import argparse
import datetime
import logging
import os
import sys

import torch
import torch.distributed as dist
from mmengine.config import Config, DictAction
from mmengine.logging import print_log
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from .checkpoint import trust_checkpoints

# Optim wrapper types that --amp may replace.
_PLAIN_WRAPPERS = (None, 'OptimWrapper', 'AmpOptimWrapper',
                   'CPUAutocastOptimWrapper')
_DDP_WRAPPERS = ('MMDistributedDataParallel',
                 'MMSeparateDistributedDataParallel')
# Seconds a collective may wait for a missing rank before the process group
# raises (gloo and NCCL default to 30 minutes).
DIST_TIMEOUT_ENV = 'HASHPLUGINS_DIST_TIMEOUT'
DEFAULT_DIST_TIMEOUT = 1800


def dist_timeout() -> datetime.timedelta:
    """The process-group timeout: ``$HASHPLUGINS_DIST_TIMEOUT`` seconds,
    default 1800."""
    value = os.environ.get(DIST_TIMEOUT_ENV, str(DEFAULT_DIST_TIMEOUT))
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1
    if seconds <= 0:
        raise ValueError(f'{DIST_TIMEOUT_ENV}={value!r}: expected a positive '
                         'number of seconds')
    return datetime.timedelta(seconds=seconds)


def setup_distributed(cfg: Config, launcher: str) -> None:
    """Prepare a distributed run on machines without CUDA.

    mmengine's ``init_dist`` calls ``torch.cuda.set_device`` unconditionally
    and the Runner passes ``device_ids=[LOCAL_RANK]`` to DDP, both of which
    fail on CPU. On CPU we create the gloo process group ourselves (the
    Runner then skips ``init_dist``) and drop ``device_ids``. GPU runs are
    left to mmengine unchanged.

    Args:
        cfg (Config): The config; ``model_wrapper_cfg`` and ``env_cfg`` are
            updated in place on CPU.
        launcher (str): ``'none'``, ``'pytorch'``, ``'slurm'`` or ``'mpi'``.
    """
    if launcher == 'none':
        return
    if torch.cuda.is_available():
        env_cfg = cfg.get('env_cfg') or {}
        env_cfg.setdefault('dist_cfg', {}).setdefault(
            'timeout', int(dist_timeout().total_seconds()))  # seconds
        cfg.env_cfg = env_cfg
        return
    if launcher != 'pytorch':
        raise RuntimeError(
            f'--launcher {launcher} needs CUDA; distributed training on CPU '
            'is supported with --launcher pytorch (tools/dist_train.sh, '
            'torchrun).')
    if not dist.is_initialized():
        # torchrun's env:// vars; a rank that dies leaves the others
        # waiting in a collective at most this long.
        dist.init_process_group(backend='gloo', timeout=dist_timeout())
    wrapper = cfg.get('model_wrapper_cfg') or {}
    wrapper.setdefault('type', 'MMDistributedDataParallel')
    if wrapper['type'] in _DDP_WRAPPERS:
        wrapper['device_ids'] = None
        wrapper.setdefault('broadcast_buffers', False)
    cfg.model_wrapper_cfg = wrapper
    env_cfg = cfg.get('env_cfg') or {}
    env_cfg.setdefault('dist_cfg', {})['backend'] = 'gloo'
    cfg.env_cfg = env_cfg


def _optim_wrapper_cfgs(optim_wrapper: dict) -> list:
    """The single wrapper config, or each sub-config of a dict wrapper."""
    if 'constructor' in optim_wrapper and 'optimizer' not in optim_wrapper:
        return [v for k, v in optim_wrapper.items()
                if k not in ('constructor', 'paramwise_cfg')
                and isinstance(v, dict)]
    return [optim_wrapper]


AMP_DTYPES = ('auto', 'float16', 'bfloat16')


def enable_amp(cfg: Config, dtype: str = 'auto') -> None:
    """Switch every optim wrapper of ``cfg`` to mixed precision.

    On CUDA this is mmengine's ``AmpOptimWrapper`` (dynamic loss scale); on
    CPU, where ``AmpOptimWrapper`` refuses to run, it is our
    :class:`CPUAutocastOptimWrapper`, with a warning. Dict wrappers (GANs,
    two-stream models) are switched per sub-module, as mmagic does.

    Args:
        cfg (Config): The config, updated in place.
        dtype (str): Autocast dtype: ``'auto'`` (float16 on CUDA, as
            mmengine; bfloat16 on CPU), ``'float16'`` or ``'bfloat16'``
            (float32's range, so no overflow; Ampere GPUs and newer).
            Defaults to 'auto'.

    Raises:
        ValueError: If ``dtype`` is unknown, if a wrapper already has a
            custom type that AMP would silently replace, or if bfloat16 is
            asked for on a GPU without bfloat16 support.
    """
    if dtype not in AMP_DTYPES:
        raise ValueError(f'--amp: dtype must be one of {AMP_DTYPES}, got '
                         f'{dtype!r}')
    cuda = torch.cuda.is_available()
    if cuda and dtype == 'bfloat16' and not torch.cuda.is_bf16_supported():
        raise ValueError(
            f'--amp bfloat16: {torch.cuda.get_device_name()} has no bfloat16 '
            'support; use --amp float16 (or plain --amp)')
    if not cuda:
        cpu_dtype = 'bfloat16' if dtype == 'auto' else dtype
        print_log(
            f'--amp without CUDA: using {cpu_dtype} autocast on CPU '
            '(CPUAutocastOptimWrapper); expect small numeric differences.',
            logger='current', level=logging.WARNING)
    for wrapper in _optim_wrapper_cfgs(cfg.optim_wrapper):
        if wrapper.get('type') not in _PLAIN_WRAPPERS:
            raise ValueError(
                f'--amp: optim wrapper type {wrapper.get("type")!r} is '
                'custom; '
                'set a mixed-precision wrapper in the config instead.')
        wrapper.pop('dtype', None)
        if cuda:
            wrapper['type'] = 'AmpOptimWrapper'
            wrapper.setdefault('loss_scale', 'dynamic')
            if dtype != 'auto':
                wrapper['dtype'] = dtype
        else:
            wrapper['type'] = 'CPUAutocastOptimWrapper'
            wrapper.pop('loss_scale', None)
            wrapper['dtype'] = cpu_dtype


def finish_distributed() -> None:
    """End a distributed job with exit code 0, without gloo's exit abort.

    Under torchrun + gloo, processes sometimes abort at interpreter exit
    (``terminate called without an active exception``, SIGABRT) after all
    work is done, which turns a finished job into a failed one. Destroying
    the group, flushing and leaving with ``os._exit(0)`` avoids it.
    """
    if not dist.is_initialized():
        return
    dist.barrier()
    dist.destroy_process_group()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def add_launch_args(parser: argparse.ArgumentParser) -> None:
    """Arguments shared by tools/train.py and tools/test.py."""
    parser.add_argument(
        '--trust-checkpoint',
        action='store_true',
        help='allow a full unpickle of checkpoints that are not plain '
        'tensors (e.g. written by stock mmpretrain). Only for files you '
        'trust: unpickling can run arbitrary code.')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings in the config, key=value pairs, e.g. '
        'train_cfg.max_epochs=10 model.head.num_bits=32')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # torch.distributed.launch passes --local-rank (torch >= 2.0).
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def parse_launch_args(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """Parse, export LOCAL_RANK and apply --trust-checkpoint."""
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    if args.trust_checkpoint:
        trust_checkpoints(True)
    return args


def add_reliability_hooks(cfg: Config, train: bool = True) -> None:
    """Add the hooks every run gets, unless the config lists them.

    * :class:`CheckpointFitHook` (a loaded checkpoint must fit the model),
      unless the config sets ``checkpoint_fit_check = False``;

    and for training runs:

    * :class:`NonFiniteLossHook`, policy from the top-level config key
      ``nonfinite_loss`` (``'stop'``, the default, or ``'skip'``);
    * :class:`StepReseedHook` (bit-exact ``--resume``), unless the config
      sets ``step_reseed = False``.

    They are added here rather than in ``default_runtime.py`` because a
    config that sets its own ``custom_hooks`` list replaces the base list.
    See docs/reliability.md.

    Args:
        cfg (Config): The config; ``custom_hooks`` is updated in place.
        train (bool): Whether the run trains. Defaults to True.
    """
    hooks = list(cfg.get('custom_hooks') or [])
    listed = {h.get('type') for h in hooks if isinstance(h, dict)}
    if 'CheckpointFitHook' not in listed and cfg.get(
            'checkpoint_fit_check', True):
        hooks.append(dict(type='CheckpointFitHook'))
    if not train:
        cfg.custom_hooks = hooks
        return
    if 'NonFiniteLossHook' not in listed:
        hooks.append(dict(type='NonFiniteLossHook',
                          policy=cfg.get('nonfinite_loss', 'stop')))
    if 'StepReseedHook' not in listed and cfg.get('step_reseed', True):
        hooks.append(dict(type='StepReseedHook'))
    cfg.custom_hooks = hooks


def build_runner(cfg: Config, launcher: str, train: bool = False):
    """Set up (CPU) distribution, then build the runner the config names.

    Args:
        cfg (Config): The merged config.
        launcher (str): The job launcher.
        train (bool): Whether the runner will train (see
            :func:`add_reliability_hooks`).
    """
    setup_distributed(cfg, launcher)
    add_reliability_hooks(cfg, train)
    if 'runner_type' not in cfg:
        return Runner.from_cfg(cfg)
    return RUNNERS.build(cfg)
