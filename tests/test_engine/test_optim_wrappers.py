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


@pytest.mark.parametrize('dtype,cpu_dtype', [('auto', 'bfloat16'),
                                             ('bfloat16', 'bfloat16'),
                                             ('float16', 'float16')])
def test_enable_amp_dtype_on_cpu(dtype, cpu_dtype, monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    cfg = Config(dict(optim_wrapper=dict(optimizer=dict(type='SGD', lr=1))))
    enable_amp(cfg, dtype)
    assert cfg.optim_wrapper.type == 'CPUAutocastOptimWrapper'
    assert cfg.optim_wrapper.dtype == cpu_dtype


@pytest.mark.parametrize('dtype', ['auto', 'bfloat16', 'float16'])
def test_enable_amp_dtype_on_cuda(dtype, monkeypatch):
    # Only the config rewrite: torch reports a bfloat16-capable GPU.
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'is_bf16_supported', lambda: True)
    cfg = Config(dict(optim_wrapper=dict(
        constructor='MultiOptimWrapperConstructor',
        generator=dict(optimizer=dict(type='Adam', lr=1)),
        discriminator=dict(optimizer=dict(type='Adam', lr=1)))))
    enable_amp(cfg, dtype)
    for part in ('generator', 'discriminator'):
        wrapper = cfg.optim_wrapper[part]
        assert wrapper.type == 'AmpOptimWrapper'
        assert wrapper.loss_scale == 'dynamic'
        assert wrapper.get('dtype') == (None if dtype == 'auto' else dtype)


def test_enable_amp_refuses_bfloat16_where_the_gpu_lacks_it(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'is_bf16_supported', lambda: False)
    monkeypatch.setattr(torch.cuda, 'get_device_name', lambda: 'Tesla V100')
    cfg = Config(dict(optim_wrapper=dict(optimizer=dict(type='SGD', lr=1))))
    with pytest.raises(ValueError, match='Tesla V100 has no bfloat16'):
        enable_amp(cfg, 'bfloat16')
    with pytest.raises(ValueError, match="dtype must be one of"):
        enable_amp(cfg, 'fp8')


def test_bfloat16_amp_wrapper_builds_and_steps(device):
    """``--amp bfloat16`` as tools/train.py configures it, on each device."""
    cfg = Config(dict(optim_wrapper=dict(optimizer=dict(type='SGD',
                                                        lr=0.1))))
    if device.type == 'cuda' and not torch.cuda.is_bf16_supported():
        pytest.skip('this GPU has no bfloat16')
    enable_amp(cfg, 'bfloat16')
    model = nn.Linear(4, 2).to(device)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    before = model.weight.detach().clone()
    with wrapper.optim_context(model):
        out = model(torch.randn(3, 4, device=device))
    assert out.dtype == torch.bfloat16
    wrapper.update_params(out.float().pow(2).mean())
    assert not torch.equal(before, model.weight)
