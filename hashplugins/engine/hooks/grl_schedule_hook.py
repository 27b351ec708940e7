"""The RevGrad/TAH schedule of the gradient reversal coefficient."""
import math
from typing import Optional

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS

DATA_BATCH = Optional[dict]


def grl_coeff(iteration: int,
              horizon: int = 10000,
              alpha: float = 10.,
              low: float = 0.,
              high: float = 1.) -> float:
    """``lambda_p = 2 (u - l) / (1 + exp(-alpha p)) - (u - l) + l`` with
    ``p = min(1, iteration / horizon)``.

    With ``l = 0, u = 1`` this is ``2 / (1 + exp(-alpha p)) - 1``, rising
    from 0 towards 1 (0.9866 at ``p = 1`` for ``alpha = 10``): the
    ``GradientScaler`` layer of TAH's official Caffe code, as in RevGrad.
    """
    if horizon <= 0:
        raise ValueError(f'horizon must be a positive number of iterations, '
                         f'got {horizon!r}')
    progress = min(1., max(0, iteration) / horizon)
    span = high - low
    return 2. * span / (1. + math.exp(-alpha * progress)) - span + low


@HOOKS.register_module()
class GradientReversalScheduleHook(Hook):
    """Set the model's gradient reversal coefficient from the iteration.

    Before every training iteration, computes :func:`grl_coeff` from
    ``runner.iter`` (0-based, the number of optimizer steps taken; TAH
    counts solver iterations) and calls ``model.set_grl_coeff(value)``
    (the model is unwrapped from DDP first). The value is logged as
    ``train/grl_coeff``. Because it is recomputed from the iteration, a
    resumed run continues the schedule exactly.

    Args:
        alpha (float): Steepness. Defaults to 10 (official).
        horizon (int): Iterations until ``p = 1``. Defaults to 10000
            (official ``max_iter``).
        low (float): ``l``. Defaults to 0 (official).
        high (float): ``u``. Defaults to 1 (official).
    """

    priority = 'NORMAL'

    def __init__(self,
                 alpha: float = 10.,
                 horizon: int = 10000,
                 low: float = 0.,
                 high: float = 1.):
        grl_coeff(0, horizon, alpha, low, high)  # validate
        self.alpha = alpha
        self.horizon = horizon
        self.low = low
        self.high = high

    def coeff_at(self, iteration: int) -> float:
        """The coefficient at ``iteration``."""
        return grl_coeff(iteration, self.horizon, self.alpha, self.low,
                         self.high)

    def before_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        setter = getattr(model, 'set_grl_coeff', None)
        if not callable(setter):
            raise TypeError(
                f'GradientReversalScheduleHook: the model '
                f'({type(model).__name__}) has no set_grl_coeff(coeff) '
                'method; use a TransferHasher (with a DomainDiscriminator) or '
                'remove this hook')
        if setter(self.coeff_at(runner.iter)) == 0:
            raise ValueError(
                'GradientReversalScheduleHook: the model has no '
                'GradientReversal layer to schedule (no adversarial transfer '
                'head configured); remove this hook')

    def before_train_iter(self,
                          runner,
                          batch_idx: int,
                          data_batch: DATA_BATCH = None) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        coeff = self.coeff_at(runner.iter)
        model.set_grl_coeff(coeff)
        runner.message_hub.update_scalar('train/grl_coeff', coeff)
