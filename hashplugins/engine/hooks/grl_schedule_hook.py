"""The RevGrad/TAH schedule of the gradient reversal coefficient."""
from typing import Optional

from mmpretrain.registry import HOOKS

from .ramp_schedule_hook import RampScheduleHook, sigmoid_ramp

# TAH's name for the schedule (its formula lives in sigmoid_ramp).
grl_coeff = sigmoid_ramp


@HOOKS.register_module()
class GradientReversalScheduleHook(RampScheduleHook):
    """Set the model's gradient reversal coefficient from the iteration.

    Before every training iteration, computes :func:`grl_coeff` from
    ``runner.iter`` (0-based, the number of optimizer steps taken; TAH
    counts solver iterations) and calls ``model.set_grl_coeff(value)``
    (the model is unwrapped from DDP first). The value is logged as
    ``train/grl_coeff``. Because it is recomputed from the iteration, a
    resumed run continues the schedule exactly.

    Args:
        alpha (float): Steepness. Defaults to 10 (the paper's; also the
            released code's, where the ramp is never applied).
        horizon (int, optional): Iterations until ``p = 1``; None = the
            run's ``max_iters``. Defaults to 10000 (official ``max_iter``).
        low (float): ``l``. Defaults to 0.
        high (float): ``u``. Defaults to 1.
    """

    def __init__(self,
                 alpha: float = 10.,
                 horizon: Optional[int] = 10000,
                 low: float = 0.,
                 high: float = 1.):
        super().__init__(alpha=alpha, horizon=horizon, low=low, high=high,
                         log_name='grl_coeff')

    def check(self, model) -> None:
        setter = getattr(model, 'set_grl_coeff', None)
        if not callable(setter):
            raise TypeError(
                f'GradientReversalScheduleHook: the model '
                f'({type(model).__name__}) has no set_grl_coeff(coeff) '
                'method; use a TransferHasher (with a DomainDiscriminator) or '
                'remove this hook')

    def apply(self, model, value: float) -> None:
        if model.set_grl_coeff(value) == 0:
            raise ValueError(
                'GradientReversalScheduleHook: the model has no '
                'GradientReversal layer to schedule (no adversarial transfer '
                'head configured); remove this hook')
