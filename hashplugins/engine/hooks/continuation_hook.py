"""HashNet's continuation: a stepwise growing factor inside the activation,
recomputed from the training progress."""
import math

from mmengine.runner import IterBasedTrainLoop
from mmpretrain.registry import HOOKS

from .ramp_schedule_hook import DATA_BATCH, RampScheduleHook, _unwrap


def continuation_scale(count: int,
                       init: float = 1.,
                       gamma: float = 0.005,
                       power: float = 0.5,
                       interval: int = 200) -> float:
    r"""The continuation factor after ``count`` steps.

    .. math::
        \beta = \beta_0\,\big(1 + \gamma\, c\big)^{p},\qquad
        c = \text{interval}\cdot\lfloor \text{count} / \text{interval}
        \rfloor

    i.e. :math:`\beta_0 (1 + \gamma\,\text{count})^p` refreshed every
    ``interval`` steps and held in between: the official HashNet code's
    ``ScaleTanH`` layer (``init_scale`` 1, ``gamma`` 0.005, ``power``
    0.5, ``step_size`` 200, counting training iterations from 1).

    Args:
        count (int): Steps counted (>= 0).
        init (float): :math:`\beta_0 > 0`. Defaults to 1.
        gamma (float): :math:`\gamma \ge 0`. Defaults to 0.005.
        power (float): :math:`p`. Defaults to 0.5.
        interval (int): Steps between refreshes (>= 1). Defaults to 200.

    Returns:
        float: :math:`\beta`.
    """

    def number(value):
        return (isinstance(value, (int, float))
                and not isinstance(value, bool) and math.isfinite(value))

    if not (number(init) and init > 0):
        raise ValueError(f'init must be a positive number, got {init!r}')
    if not (number(gamma) and gamma >= 0):
        raise ValueError(f'gamma must be a number >= 0, got {gamma!r}')
    if not number(power):
        raise ValueError(f'power must be a finite number, got {power!r}')
    if isinstance(interval, bool) or not isinstance(
            interval, int) or interval < 1:
        raise ValueError(f'interval must be an int >= 1, got {interval!r}')
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError(f'count must be an int >= 0, got {count!r}')
    held = interval * (count // interval)
    return init * (1. + gamma * held)**power


@HOOKS.register_module()
class ContinuationScheduleHook(RampScheduleHook):
    """Set a float attribute (by default ``head.scale``, the :math:`\\beta`
    of ``tanh(beta z)``) from :func:`continuation_scale`.

    Before every training iteration the value is recomputed from the
    runner's progress, written to ``<module>.<attribute>`` of the model
    (unwrapped from DDP) and logged as ``train/<log_name>``, so a resumed
    run continues the schedule exactly. The step count is

    * ``by_epoch=False`` (the official HashNet code): the 1-based number
      of the coming training iteration, ``runner.iter + 1`` (its layer
      counts a forward pass before testing ``iter % step_size``);
    * ``by_epoch=True`` (DeepHash-pytorch's ``(epoch // 20 + 1) ** 0.5``,
      i.e. ``init=1, gamma=1/20, power=0.5, interval=20``): the 0-based
      epoch, ``runner.epoch``; needs an epoch-based training loop.

    The module/attribute targeting, its checks and the logging are
    :class:`RampScheduleHook`'s; only the schedule differs.

    Args:
        module (str): Dotted path of the submodule. Defaults to ``'head'``.
        attribute (str): Its float attribute. Defaults to ``'scale'``.
        init (float): :math:`\\beta_0`. Defaults to 1.
        gamma (float): :math:`\\gamma`. Defaults to 0.005.
        power (float): :math:`p`. Defaults to 0.5.
        interval (int): Steps between refreshes (the official
            ``step_size``). Defaults to 200.
        by_epoch (bool): Count epochs instead of iterations. Defaults to
            False.
        log_name (str, optional): Logged scalar name. Defaults to
            ``attribute``.
    """

    def __init__(self,
                 module: str = 'head',
                 attribute: str = 'scale',
                 init: float = 1.,
                 gamma: float = 0.005,
                 power: float = 0.5,
                 interval: int = 200,
                 by_epoch: bool = False,
                 log_name: str = None):
        continuation_scale(0, init, gamma, power, interval)  # validate
        if not isinstance(by_epoch, bool):
            raise ValueError(f'ContinuationScheduleHook: by_epoch must be '
                             f'True or False, got {by_epoch!r}')
        # the sigmoid ramp's own parameters are unused (horizon None skips
        # their check); coeff_at is replaced below
        super().__init__(module=module, attribute=attribute, horizon=None,
                         log_name=log_name)
        self.init = init
        self.gamma = gamma
        self.power = power
        self.interval = interval
        self.by_epoch = by_epoch

    def coeff_at(self, count: int) -> float:
        """The value after ``count`` steps (iterations or epochs)."""
        return continuation_scale(count, self.init, self.gamma, self.power,
                                  self.interval)

    def value_for(self, runner) -> float:
        """The value for the coming training iteration of ``runner``."""
        return self.coeff_at(runner.epoch if self.by_epoch else runner.iter +
                             1)

    def before_train(self, runner) -> None:
        if self.by_epoch and isinstance(
                getattr(runner, 'train_loop', None), IterBasedTrainLoop):
            raise ValueError(
                'ContinuationScheduleHook: by_epoch=True counts epochs, but '
                'the training loop is iteration-based; use by_epoch=False')
        model = _unwrap(runner)
        self.check(model)
        self.apply(model, self.value_for(runner))

    def before_train_iter(self,
                          runner,
                          batch_idx: int,
                          data_batch: DATA_BATCH = None) -> None:
        value = self.value_for(runner)
        self.apply(_unwrap(runner), value)
        runner.message_hub.update_scalar(f'train/{self.log_name}', value)
