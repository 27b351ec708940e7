# ganreg stage 1 (Geng et al. 2018, spec §5): a GAN trained on the hashing
# training set only ("without extra data" [A]); an unconditional DCGAN is
# the simplest faithful reading [I]. Not a complete config: the leaves add
# the data and the iteration count.
#  - HashingGAN, mmagic-style train_step: disc_steps D steps, then
#    gen_steps G steps [I, DCGAN default 1:1]; non-saturating GAN loss;
#  - Adam lr 2e-4, betas (0.5, 0.999) (DCGAN, Radford et al. 2016);
#  - DDP: MMSeparateDistributedDataParallel (one DDP per sub-module);
#  - grids of generator samples as PNG in <work_dir>/samples.
_base_ = ['../../_base_/default_runtime.py']

noise_size = 100
model = dict(
    type='HashingGAN',
    data_preprocessor=dict(
        type='ClsDataPreprocessor', mean=[127.5] * 3, std=[127.5] * 3,
        to_rgb=True),
    generator=dict(type='DCGANGenerator', out_size=32,
                   noise_size=noise_size, base_channels=64),
    discriminator=dict(type='DCGANDiscriminator', in_size=32,
                       base_channels=64),
    adv_loss='vanilla',
    noise_dist='normal',
    disc_steps=1,
    gen_steps=1)

optim_wrapper = dict(
    constructor='MultiOptimWrapperConstructor',
    generator=dict(optimizer=dict(type='Adam', lr=2e-4, betas=(0.5, 0.999))),
    discriminator=dict(
        optimizer=dict(type='Adam', lr=2e-4, betas=(0.5, 0.999))))
# Each rank draws its own noise (seed + rank): with one seed for all
# ranks, N GPUs would generate the same fakes N times.
randomness = dict(seed=0, deterministic=False, diff_rank_seed=True)
model_wrapper_cfg = dict(
    type='MMSeparateDistributedDataParallel', broadcast_buffers=False,
    find_unused_parameters=False)

gan_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackHashInputs', num_classes=10),
]
train_cfg = dict(by_epoch=False, max_iters=30000)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=100),
    checkpoint=dict(
        type='AtomicCheckpointHook', interval=5000, by_epoch=False,
        max_keep_ckpts=2))
custom_hooks = [
    dict(type='WeightsOnlyCheckpointHook'),
    dict(type='GANSampleGridHook', interval=5000, num_samples=64),
]
log_processor = dict(by_epoch=False)
