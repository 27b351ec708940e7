import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.optim import OptimWrapperDict, build_optim_wrapper
from mmengine.registry import DefaultScope

import hashplugins  # noqa: F401
from hashplugins.engine.runner import enable_amp


class _TwoPart(nn.Module):

    def __init__(self):
        super().__init__()
        self.generator = nn.Linear(3, 3)
        self.discriminator = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 1))


@pytest.fixture(autouse=True)
def _scope():
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        yield


def test_multi_constructor_builds_one_wrapper_per_submodule():
    model = _TwoPart()
    wrappers = build_optim_wrapper(
        model,
        dict(
            constructor='MultiOptimWrapperConstructor',
            generator=dict(optimizer=dict(type='Adam', lr=1e-3)),
            discriminator=dict(
                optimizer=dict(type='SGD', lr=0.1),
                paramwise_cfg=dict(custom_keys={'0': dict(lr_mult=10.)}))))
    assert isinstance(wrappers, OptimWrapperDict)
    gen_params = {id(p) for g in wrappers['generator'].param_groups
                  for p in g['params']}
    assert gen_params == {id(p) for p in model.generator.parameters()}
    fast = {id(p) for g in wrappers['discriminator'].param_groups
            for p in g['params'] if g['lr'] == pytest.approx(1.0)}
    assert fast == {id(p) for p in model.discriminator[0].parameters()}


def test_multi_constructor_names_missing_submodule():
    with pytest.raises(AttributeError, match='optim_wrapper.encoder'):
        build_optim_wrapper(
            _TwoPart(),
            dict(constructor='MultiOptimWrapperConstructor',
                 encoder=dict(optimizer=dict(type='SGD', lr=0.1))))


def test_cpu_autocast_wrapper_runs_bf16():
    model = nn.Linear(8, 8)
    wrapper = build_optim_wrapper(
        model, dict(type='CPUAutocastOptimWrapper',
                    optimizer=dict(type='SGD', lr=0.1)))
    with wrapper.optim_context(model):
        out = model(torch.randn(2, 8))
    assert out.dtype == torch.bfloat16
    before = model.weight.detach().clone()
    wrapper.update_params(out.float().pow(2).mean())
    assert not torch.equal(before, model.weight)


def test_enable_amp_switches_single_and_dict_wrappers():
    cfg = Config(dict(optim_wrapper=dict(optimizer=dict(type='SGD', lr=1))))
    enable_amp(cfg)
    expected = ('AmpOptimWrapper'
                if torch.cuda.is_available() else 'CPUAutocastOptimWrapper')
    assert cfg.optim_wrapper.type == expected
    cfg = Config(
        dict(optim_wrapper=dict(
            constructor='MultiOptimWrapperConstructor',
            generator=dict(optimizer=dict(type='Adam', lr=1)),
            discriminator=dict(optimizer=dict(type='Adam', lr=1)))))
    enable_amp(cfg)
    assert cfg.optim_wrapper.generator.type == expected
    assert cfg.optim_wrapper.discriminator.type == expected


def test_enable_amp_refuses_to_replace_custom_wrapper():
    cfg = Config(dict(optim_wrapper=dict(type='MyWrapper',
                                         optimizer=dict(type='SGD', lr=1))))
    with pytest.raises(ValueError, match='MyWrapper'):
        enable_amp(cfg)
