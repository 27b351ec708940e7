from .grl_schedule_hook import GradientReversalScheduleHook, grl_coeff
from .ramp_schedule_hook import RampScheduleHook, sigmoid_ramp
from .continuation_hook import ContinuationScheduleHook, continuation_scale
from .dadh_code_update_hook import DADHCodeUpdateHook
from .weights_only_checkpoint_hook import WeightsOnlyCheckpointHook
from .gan_sample_grid_hook import GANSampleGridHook
from .retrieval_grid_hook import RetrievalGridHook
from .nonfinite_loss_hook import NonFiniteLossError, NonFiniteLossHook
from .step_reseed_hook import StepReseedHook
from .checkpoint_fit_hook import CheckpointFitHook
from .atomic_checkpoint_hook import AtomicCheckpointHook, CheckpointWriteError
from .work_dir_lock_hook import WorkDirLockedError, WorkDirLockHook
from .batch_size_check_hook import BatchSizeCheckHook
from .resume_override_hook import ResumeOverrideHook

__all__ = [
    'WeightsOnlyCheckpointHook', 'GradientReversalScheduleHook', 'grl_coeff',
    'NonFiniteLossError', 'NonFiniteLossHook', 'StepReseedHook',
    'CheckpointFitHook', 'AtomicCheckpointHook', 'CheckpointWriteError',
    'WorkDirLockHook', 'WorkDirLockedError', 'BatchSizeCheckHook',
    'ResumeOverrideHook'
]
