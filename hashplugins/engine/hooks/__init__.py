from .grl_schedule_hook import GradientReversalScheduleHook, grl_coeff
from .dadh_code_update_hook import DADHCodeUpdateHook
from .weights_only_checkpoint_hook import WeightsOnlyCheckpointHook
from .gan_sample_grid_hook import GANSampleGridHook

__all__ = [
    'WeightsOnlyCheckpointHook', 'GradientReversalScheduleHook', 'grl_coeff'
]
