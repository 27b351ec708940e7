"""Tiny DSH-GANs models, optimizers and semi-supervised batches."""
import torch
from mmengine.optim import OptimWrapperDict
from mmpretrain.registry import MODELS, OPTIM_WRAPPER_CONSTRUCTORS
from mmpretrain.structures import DataSample

import hashplugins  # noqa: F401
from param_helpers import changed, snapshot  # noqa: F401 (re-exported)

NUM_CLASSES = 4


def dsh_cfg(num_classes=NUM_CLASSES, num_bits=6, **kwargs):
    cfg = dict(
        type='DSHGANs',
        generator=dict(type='DCGANGenerator', out_size=32, noise_size=8,
                       base_channels=8, num_classes=num_classes),
        discriminator=dict(type='DCGANDiscriminator', in_size=32,
                           base_channels=8, num_classes=num_classes,
                           conditioning='ac'),
        hasher=dict(
            type='ThreeStreamHashNet',
            backbone=dict(type='ResNet_CIFAR', depth=18, stem_channels=4,
                          base_channels=4, out_indices=(3, )),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='HashHead', in_channels=32, num_bits=num_bits,
                      activation='sigmoid'),
            num_classes=num_classes))
    cfg.update(kwargs)
    return cfg


def build_dsh(**kwargs):
    torch.manual_seed(0)
    model = MODELS.build(dsh_cfg(**kwargs))

    return model


OPTIM_CFG = dict(
    constructor='MultiOptimWrapperConstructor',
    generator=dict(optimizer=dict(type='Adam', lr=1e-2)),
    discriminator=dict(optimizer=dict(type='Adam', lr=1e-2)),
    hasher=dict(optimizer=dict(type='Adam', lr=1e-2)))


def optim_wrappers(model) -> OptimWrapperDict:
    cfg = dict(OPTIM_CFG)
    cfg.pop('constructor')
    constructor = OPTIM_WRAPPER_CONSTRUCTORS.build(dict(
        type='MultiOptimWrapperConstructor', optim_wrapper_cfg=cfg))
    return constructor(model)


def semi_batch(labels, num_unlabelled=2, seed=0, unlabelled_labels=None):
    """A collated batch: labelled samples with ``labels`` (class indices
    or lists of them), then ``num_unlabelled`` unlabelled samples with an
    empty label (or ``unlabelled_labels``, to poison them)."""
    rng = torch.Generator().manual_seed(seed)
    n = len(labels) + num_unlabelled
    inputs = [torch.randint(0, 256, (3, 32, 32), generator=rng,
                            dtype=torch.uint8) for _ in range(n)]
    samples = []
    for label in labels:
        samples.append(DataSample(metainfo=dict(is_labelled=True))
                       .set_gt_label(label))
    for i in range(num_unlabelled):
        label = ([] if unlabelled_labels is None else unlabelled_labels[i])
        samples.append(DataSample(metainfo=dict(is_labelled=False))
                       .set_gt_label(label))
    return dict(inputs=inputs, data_samples=samples)


def real_triplet_cfg(num_classes=NUM_CLASSES, num_bits=6, **kwargs):
    """The ablation's model on the same tiny CNN as :func:`dsh_cfg`."""
    cfg = dict(type='RealTripletHasher',
               hasher=dsh_cfg(num_classes, num_bits)['hasher'])
    cfg.update(kwargs)
    return cfg


def build_real_triplet(**kwargs):
    torch.manual_seed(0)
    return MODELS.build(real_triplet_cfg(**kwargs))


def optim_wrapper(model):
    """The ablation's single optimizer (the hasher's of OPTIM_CFG)."""
    constructor = OPTIM_WRAPPER_CONSTRUCTORS.build(dict(
        type='DefaultOptimWrapperConstructor',
        optim_wrapper_cfg=dict(type='OptimWrapper',
                               optimizer=dict(type='Adam', lr=1e-2))))
    return constructor(model)
