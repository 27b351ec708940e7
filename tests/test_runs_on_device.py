"""Every method's shipped CPU config through the real mmengine Runner on
every device present (``pytest -m gpu``): 3 training iterations on real
data with each custom hook acting every step (sample grids, B-steps,
ramps), a checkpoint, an evaluation, then ``resume`` onto the same device
for 2 more (on a GPU mmengine maps the checkpoint onto CUDA before the
hooks see it)."""
import os.path as osp

import pytest
import torch
from mmengine.runner import Runner

from method_steps import METHODS, by_epoch, extend_run, tiny_run_config


@pytest.fixture
def on_device(device, monkeypatch):
    """Make the Runner put the model (and map checkpoints) on ``device``
    (mmengine picks CUDA whenever it is present)."""
    monkeypatch.setattr('mmengine.runner.runner.get_device',
                        lambda: device.type)
    return device


@pytest.mark.parametrize('method', sorted(METHODS))
def test_short_run_and_resume(method, on_device, shared_data, tmp_path):
    cfg = tiny_run_config(method, shared_data, str(tmp_path / 'work'))
    runner = Runner.from_cfg(cfg)
    model = runner.train()
    assert next(model.parameters()).device.type == on_device.type
    first_iter = runner.iter
    assert first_iter >= 3
    if cfg.get('val_dataloader') is not None:
        metrics = runner.message_hub.log_scalars
        assert any(k.startswith('val/hashing/') for k in metrics), sorted(
            metrics)
    samples = osp.join(cfg.work_dir, 'samples')
    uses_grids = any(h['type'] == 'GANSampleGridHook'
                     for h in cfg.get('custom_hooks') or [])
    assert osp.isdir(samples) == uses_grids
    resumed = Runner.from_cfg(extend_run(cfg))
    resumed.train()
    assert resumed.iter == first_iter + (2 * first_iter if by_epoch(cfg)
                                         else 2)
    for value in resumed.message_hub.log_scalars.values():
        assert torch.isfinite(torch.as_tensor(value.current()))
