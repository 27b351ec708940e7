"""A sigmoid ramp of one model coefficient, recomputed every iteration."""
import math
from typing import Optional

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS

DATA_BATCH = Optional[dict]


def sigmoid_ramp(iteration: int,
                 horizon: int = 10000,
                 alpha: float = 10.,
                 low: float = 0.,
                 high: float = 1.) -> float:
    """``lambda_p = 2 (u - l) / (1 + exp(-alpha p)) - (u - l) + l`` with
    ``p = min(1, iteration / horizon)``.

    With ``l = 0, u = 1`` this is ``2 / (1 + exp(-alpha p)) - 1``, rising
    from 0 towards 1 (0.9866 at ``p = 1`` for ``alpha = 10``): the RevGrad
    schedule TAH's paper describes. TAH's released Caffe code has the
    formula in its ``GradientScaler`` layer but never applies it (the
    coefficient stays 1; configs/tah/README.md).
    """
    if horizon <= 0:
        raise ValueError(f'horizon must be a positive number of iterations, '
                         f'got {horizon!r}')
    progress = min(1., max(0, iteration) / horizon)
    span = high - low
    return 2. * span / (1. + math.exp(-alpha * progress)) - span + low


def _unwrap(runner):
    model = runner.model
    return model.module if is_model_wrapper(model) else model


@HOOKS.register_module()
class RampScheduleHook(Hook):
    """Set a named attribute of a (sub)module from :func:`sigmoid_ramp`.

    Before every training iteration the value at ``runner.iter`` (0-based,
    optimizer steps taken) is written to ``<module>.<attribute>`` of the
    model (unwrapped from DDP) and logged as ``train/<log_name>``. Being
    recomputed from the iteration, a resumed run continues the schedule
    exactly. E.g. METAH's entropy weight ramp::

        dict(type='RampScheduleHook', module='transfer_heads.semantic',
             attribute='ent_ramp', horizon=10000)

    Subclasses change how the value is applied by overriding
    :meth:`check` and :meth:`apply` (:class:`GradientReversalScheduleHook`
    calls ``model.set_grl_coeff``).

    Args:
        module (str): Dotted path of the submodule, ``''`` for the model.
        attribute (str): Existing float attribute of that module to set.
        alpha (float): Steepness. Defaults to 10.
        horizon (int, optional): Iterations until ``p = 1``; None ramps
            over the whole run (the train loop's ``max_iters``). Defaults
            to 10000.
        low (float): ``l``. Defaults to 0.
        high (float): ``u``. Defaults to 1.
        log_name (str, optional): Logged scalar name. Defaults to
            ``attribute``.
    """

    priority = 'NORMAL'

    def __init__(self,
                 module: str = '',
                 attribute: Optional[str] = None,
                 alpha: float = 10.,
                 horizon: Optional[int] = 10000,
                 low: float = 0.,
                 high: float = 1.,
                 log_name: Optional[str] = None):
        if horizon is not None:
            sigmoid_ramp(0, horizon, alpha, low, high)  # validate
        self.module = module
        self.attribute = attribute
        self.alpha = alpha
        self.horizon = horizon
        self.low = low
        self.high = high
        self.log_name = log_name or attribute

    def coeff_at(self, iteration: int) -> float:
        """The scheduled value at ``iteration``."""
        if self.horizon is None:
            raise RuntimeError(
                f'{type(self).__name__}: horizon=None takes the run length '
                'at before_train; call coeff_at after it, or give horizon')
        return sigmoid_ramp(iteration, self.horizon, self.alpha, self.low,
                            self.high)

    def _target(self, model):
        try:
            return model.get_submodule(self.module)
        except AttributeError as err:
            raise ValueError(
                f'{type(self).__name__}: the model '
                f'({type(model).__name__}) has no submodule '
                f'{self.module!r} ({err})') from err

    def check(self, model) -> None:
        """Raise if the model cannot take the value (before training)."""
        if not self.attribute:
            raise ValueError(f'{type(self).__name__}: give the attribute '
                             'to schedule')
        target = self._target(model)
        if not isinstance(getattr(target, self.attribute, None),
                          (int, float)):
            raise ValueError(
                f'{type(self).__name__}: {self.module or "the model"} '
                f'({type(target).__name__}) has no float attribute '
                f'{self.attribute!r} to schedule')

    def apply(self, model, value: float) -> None:
        """Write ``value`` into the model."""
        setattr(self._target(model), self.attribute, value)

    def before_train(self, runner) -> None:
        if self.horizon is None:  # ramp over the whole run
            self.horizon = runner.max_iters
        model = _unwrap(runner)
        self.check(model)
        self.apply(model, self.coeff_at(runner.iter))

    def before_train_iter(self,
                          runner,
                          batch_idx: int,
                          data_batch: DATA_BATCH = None) -> None:
        value = self.coeff_at(runner.iter)
        self.apply(_unwrap(runner), value)
        runner.message_hub.update_scalar(f'train/{self.log_name}', value)
