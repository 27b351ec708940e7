"""ContinuationScheduleHook: HashNet's beta schedule against a simulation of
the official ScaleTanH layer and DeepHash-pytorch's per-epoch rule, its
errors, and a real mmengine Runner run that resumes onto the same
schedule."""
import math
from types import SimpleNamespace

import pytest
import torch
from mmengine.hooks import Hook
from mmengine.logging import MessageHub
from mmengine.runner import Runner
from mmpretrain.registry import HOOKS, MODELS

import hashplugins  # noqa: F401
from hashplugins.engine.hooks import (ContinuationScheduleHook,
                                      continuation_scale)
from method_steps import extend_run, tiny_run_config


def _official_scales(num_iters, init=1., gamma=0.005, power=0.5, step=200):
    """The official ScaleTanH layer, simulated: each training forward pass
    first increments iter_, then refreshes scale when iter_ % step == 0."""
    scale, it, used = init, 0, []
    for _ in range(num_iters):
        it += 1
        if it % step == 0:
            scale = init * math.pow(1 + gamma * it, power)
        used.append(scale)
    return used


def _model():
    return MODELS.build(dict(type='DeepHasher', backbone=dict(type='LeNet5'),
                             head=dict(type='HashHead', in_channels=120,
                                       num_bits=8)))


def _runner(model, name, **state):
    state = dict(dict(iter=0, epoch=0), **state)
    return SimpleNamespace(model=model,
                           message_hub=MessageHub.get_instance(name),
                           **state)


def test_matches_the_official_layer_iteration_by_iteration():
    hook = HOOKS.build(dict(type='ContinuationScheduleHook'))
    model = _model()
    runner = _runner(model, 'test_continuation_official')
    hook.before_train(runner)
    assert model.head.scale == 1.
    official = _official_scales(1000)
    for it in range(1000):
        runner.iter = it
        hook.before_train_iter(runner, batch_idx=it)
        assert model.head.scale == pytest.approx(official[it], rel=1e-15)
        assert runner.message_hub.get_scalar(
            'train/scale').current() == pytest.approx(official[it])
    # the refreshes: iteration 200 (runner.iter 199) is the first at sqrt 2
    assert official[198] == 1. and official[199] == pytest.approx(
        math.sqrt(2.))
    assert hook.coeff_at(10000) == pytest.approx(math.sqrt(51.))


def test_other_parameters_follow_the_same_layer():
    kwargs = dict(init=0.5, gamma=0.02, power=0.75, interval=7)
    hook = ContinuationScheduleHook(**kwargs)
    official = _official_scales(100, 0.5, 0.02, 0.75, 7)
    runner = _runner(_model(), 'test_continuation_params')
    hook.before_train(runner)
    for it in range(100):
        runner.iter = it
        assert hook.value_for(runner) == pytest.approx(official[it],
                                                        rel=1e-15)


def test_by_epoch_is_deephash_pytorch():
    """DeepHash-pytorch: scale = (epoch // step_continuation + 1) ** 0.5
    with step_continuation = 20, set at the start of each epoch."""
    hook = ContinuationScheduleHook(gamma=1 / 20, interval=20, by_epoch=True)
    model = _model()
    runner = _runner(model, 'test_continuation_epoch')
    hook.before_train(runner)
    for epoch in range(150):
        for it in (0, 5):  # every iteration of the epoch: the same value
            runner.epoch, runner.iter = epoch, epoch * 10 + it
            hook.before_train_iter(runner, batch_idx=it)
            assert model.head.scale == pytest.approx(
                (epoch // 20 + 1)**0.5, rel=1e-15)


def test_resume_recomputes_from_the_iteration():
    """No state of its own: a fresh hook at iteration t gives the value an
    uninterrupted run had there."""
    runner = _runner(_model(), 'test_continuation_resume', iter=437)
    fresh = ContinuationScheduleHook()
    fresh.before_train(runner)
    assert runner.model.head.scale == pytest.approx(
        _official_scales(438)[437])


@pytest.mark.parametrize('kwargs,match', [
    (dict(init=0.), 'init must be a positive'),
    (dict(init=-1.), 'init must be a positive'),
    (dict(gamma=-0.1), 'gamma must be a number >= 0'),
    (dict(power=float('inf')), 'power must be a finite'),
    (dict(interval=0), 'interval must be an int >= 1'),
    (dict(interval=2.5), 'interval must be an int >= 1'),
    (dict(interval=True), 'interval must be an int >= 1'),
    (dict(by_epoch='no'), 'by_epoch must be True or False'),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        HOOKS.build(dict(type='ContinuationScheduleHook', **kwargs))


def test_bad_targets_and_loops():
    model = _model()
    runner = _runner(model, 'test_continuation_targets')
    for bad in (dict(module='neck_that_is_not'), dict(attribute='typo'),
                dict(module='backbone', attribute='scale')):
        with pytest.raises(ValueError, match='no'):
            ContinuationScheduleHook(**bad).before_train(runner)
    from mmengine.runner import IterBasedTrainLoop
    loop = IterBasedTrainLoop.__new__(IterBasedTrainLoop)
    runner.train_loop = loop
    with pytest.raises(ValueError, match='by_epoch=True counts epochs'):
        ContinuationScheduleHook(by_epoch=True).before_train(runner)
    ContinuationScheduleHook().before_train(runner)  # by iteration: fine
    with pytest.raises(ValueError, match='count must be an int >= 0'):
        continuation_scale(-1)


@HOOKS.register_module(force=True)
class _RecordHeadScale(Hook):
    """Records head.scale as the training step sees it."""
    priority = 'LOWEST'  # after the continuation hook has set it
    seen = []

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        model = runner.model.module if hasattr(runner.model,
                                               'module') else runner.model
        type(self).seen.append((runner.iter, model.head.scale))


def test_real_runner_and_resume(tmp_path):
    """The HashNet quickstart config through mmengine's Runner: 3
    iterations (interval 1, so beta moves every step), a checkpoint, then
    --resume for 2 more: the schedule continues where it was."""
    torch.set_num_threads(1)
    cfg = tiny_run_config('hashnet', None, str(tmp_path / 'work'))
    hooks = [h for h in cfg.custom_hooks
             if h['type'] == 'ContinuationScheduleHook']
    assert len(hooks) == 1 and hooks[0]['interval'] == 1
    cfg.custom_hooks.append(dict(type='_RecordHeadScale'))
    cfg.train_dataloader.dataset.indices = 4 * 5  # 5 iterations per epoch
    cfg.train_cfg.update(max_epochs=1)
    _RecordHeadScale.seen = []
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 5
    resumed = Runner.from_cfg(extend_run(cfg, more=1))
    resumed.train()
    assert resumed.iter == 10
    its = [it for it, _ in _RecordHeadScale.seen]
    assert its == list(range(10))
    for it, scale in _RecordHeadScale.seen:
        assert scale == pytest.approx(math.sqrt(1 + 0.005 * (it + 1)),
                                      rel=1e-15), it
    assert resumed.message_hub.get_scalar(
        'train/scale').current() == pytest.approx(math.sqrt(1.05))
