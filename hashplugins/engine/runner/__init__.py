from .checkpoint import (UntrustedCheckpointError, checkpoints_trusted,
                         load_checkpoint_file, trust_checkpoints)
from .launch import (add_launch_args, build_runner, enable_amp,
                     finish_distributed, parse_launch_args, setup_distributed)

__all__ = [
    'UntrustedCheckpointError', 'checkpoints_trusted', 'load_checkpoint_file',
    'trust_checkpoints', 'add_launch_args', 'build_runner', 'enable_amp',
    'finish_distributed', 'parse_launch_args', 'setup_distributed'
]
