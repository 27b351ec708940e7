# DSH-GANs at CPU scale [I], on the CIFAR-10 copy: the hashing CNN is a
# ResNet-18 for 32 px images (ResNet_CIFAR, 16 base channels, from
# scratch), the GAN a small conditional DCGAN (64-d noise, 32 base
# channels); protocol (b) with 500 labelled images/class, the other
# 54,000 database images unlabelled. Batches of 16 labelled + 16
# unlabelled images; 600 GAN pre-training iterations, then 400 joint
# iterations (a CNN step each, a G step every 2nd: disc_steps=2); Adam
# 1e-3 for the CNN. mAP@all is evaluated at the end. Sized for a few
# minutes per run on 2 shared CPU cores, not for accuracy.
_base_ = [
    './_base_/semi_cifar10.py',
    './_base_/dsh_gans.py',
]
num_bits = 12
model = dict(
    generator=dict(noise_size=64, base_channels=32),
    discriminator=dict(base_channels=32),
    hasher=dict(
        type='ThreeStreamHashNet',
        backbone=dict(type='ResNet_CIFAR', depth=18, stem_channels=16,
                      base_channels=16, out_indices=(3, )),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='HashHead', in_channels=128, num_bits=num_bits,
                  activation='sigmoid'),
        num_classes={{_base_.num_classes}}),
    pretrain_iters=600,
    disc_steps=2)
optim_wrapper = dict(
    hasher=dict(optimizer=dict(type='Adam', lr=1e-3, weight_decay=1e-5)))
train_dataloader = dict(batch_size=16, num_workers=0)
val_dataloader = dict(num_workers=0)
test_dataloader = val_dataloader
train_cfg = dict(max_iters=1000, val_interval=1000)
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(interval=500))
custom_hooks = [
    dict(type='WeightsOnlyCheckpointHook'),
    dict(type='GANSampleGridHook', interval=500, num_samples=100),
]
