"""Tiny GAN configs and batches shared by the GAN tests."""
import torch
from mmengine.optim import OptimWrapperDict
from mmpretrain.registry import MODELS, OPTIM_WRAPPER_CONSTRUCTORS
from mmpretrain.structures import DataSample

import hashplugins  # noqa: F401
from param_helpers import changed, snapshot  # noqa: F401 (re-exported)


def gan_cfg(num_classes=None, conditioning=None, channels=3, **kwargs):
    cfg = dict(
        type='HashingGAN',
        generator=dict(type='DCGANGenerator', out_size=32, noise_size=16,
                       base_channels=8, out_channels=channels,
                       num_classes=num_classes),
        discriminator=dict(type='DCGANDiscriminator', in_size=32,
                           in_channels=channels, base_channels=8,
                           num_classes=num_classes,
                           conditioning=conditioning))
    if channels == 1:
        cfg['data_preprocessor'] = dict(type='ClsDataPreprocessor',
                                        mean=[127.5], std=[127.5])
    cfg.update(kwargs)
    return cfg


def build_gan(**kwargs):
    torch.manual_seed(0)
    model = MODELS.build(gan_cfg(**kwargs))
    model.init_weights()
    return model


def optim_wrappers(model, lr=1e-2) -> OptimWrapperDict:
    constructor = OPTIM_WRAPPER_CONSTRUCTORS.build(dict(
        type='MultiOptimWrapperConstructor',
        optim_wrapper_cfg=dict(
            generator=dict(optimizer=dict(type='Adam', lr=lr)),
            discriminator=dict(optimizer=dict(type='Adam', lr=lr)))))
    return constructor(model)


def batch(num=4, num_classes=10, seed=0):
    rng = torch.Generator().manual_seed(seed)
    inputs = [torch.randint(0, 256, (3, 32, 32), generator=rng,
                            dtype=torch.uint8) for _ in range(num)]
    samples = [DataSample().set_gt_label(i % num_classes)
               for i in range(num)]
    return dict(inputs=inputs, data_samples=samples)
