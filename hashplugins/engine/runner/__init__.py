from .checkpoint import (UntrustedCheckpointError, checkpoints_trusted,
                         load_checkpoint_file, trust_checkpoints)
from .checkpoint_fit import (CheckpointMismatchError, checkpoint_mismatch,
                             load_fitting_checkpoint)
from .launch import (AMP_DTYPES, DIST_TIMEOUT_ENV, add_launch_args, add_reliability_hooks,
                     build_runner, dist_timeout, enable_amp,
                     finish_distributed, parse_launch_args, setup_distributed)

__all__ = [
    'UntrustedCheckpointError', 'checkpoints_trusted', 'load_checkpoint_file',
    'trust_checkpoints', 'CheckpointMismatchError', 'checkpoint_mismatch',
    'load_fitting_checkpoint', 'add_launch_args', 'build_runner', 'enable_amp',
    'finish_distributed', 'parse_launch_args', 'setup_distributed',
    'add_reliability_hooks', 'dist_timeout', 'DIST_TIMEOUT_ENV', 'AMP_DTYPES'
]
