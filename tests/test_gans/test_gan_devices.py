"""GAN sampling on every device present (``pytest -m gpu``): noise drawn
with a host generator lands on the model's device (PyTorch refuses a CPU
generator for CUDA tensors), and the sample-grid hook works there. (GAN
training steps on each device: tests/test_models/test_method_steps.py.)"""
import types

import torch

from gan_helpers import build_gan
from hashplugins.engine.hooks import GANSampleGridHook
from hashplugins.models.gans.gan_utils import sample_noise


def test_host_generator_noise_lands_on_the_model_device(device):
    model = build_gan(num_classes=10, conditioning='ac').to(device)
    noise = model.noise(5, torch.Generator().manual_seed(3))
    labels = model.random_labels(5, torch.Generator().manual_seed(3))
    assert noise.device.type == labels.device.type == device.type
    # the same numbers as on the host: grids are comparable across devices
    expected = sample_noise(5, model.noise_size, model.noise_dist,
                            generator=torch.Generator().manual_seed(3))
    assert torch.equal(noise.cpu(), expected)


def test_sample_grid_hook_on_device(device, tmp_path):
    model = build_gan(num_classes=10, conditioning='ac').to(device)
    hook = GANSampleGridHook(interval=1, num_samples=20)
    runner = types.SimpleNamespace(model=model, rank=0,
                                   work_dir=str(tmp_path))
    path = hook.save_samples(runner, 'iter_1')
    assert path is not None and (tmp_path / 'samples' / 'iter_1.png').is_file()

