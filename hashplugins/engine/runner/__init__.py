from .checkpoint import (UntrustedCheckpointError, checkpoints_trusted,
                         load_checkpoint_file, trust_checkpoints)
from .launch import enable_amp, finish_distributed, setup_distributed

__all__ = [
    'UntrustedCheckpointError', 'checkpoints_trusted', 'load_checkpoint_file',
    'trust_checkpoints', 'enable_amp', 'finish_distributed',
    'setup_distributed'
]
