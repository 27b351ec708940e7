# DSH-GANs (Qiu et al., SIGIR 2017; spec §4) method parts. Not a complete
# config: the leaves add the hashing CNN (backbone, code length), the data
# and the schedule. The objectives follow the blog post's equations (spec
# §4.0); the rest are knobs (README fidelity table):
#  - generator G(z, y): DCGAN with [z; label embedding] input [S survey],
#    z ~ U(-1, 1)^100 [I, DCGAN default]; multi-hot y embedded as the mean
#    of its labels' embeddings [I];
#  - discriminator D: an AC-GAN DCGAN for the GAN pre-training only [I];
#    in the joint stage the CNN's adversary stream decides real/synthetic
#    [S eqs. 6-7] (joint_gan_loss_weight > 0 keeps D in the game);
#  - hashing CNN: shared backbone, adversary / hash (sigmoid, threshold
#    0.5 [S]) / classification streams [A];
#  - triplets: real labelled query, synthetic positive G(z, y), synthetic
#    negative G(z', y-) with y- sharing no label with y [S Fig. 1];
#    triplet hinge with squared L2 and margin 1 [S eq. 3]; adversary and
#    classification terms averaged over a triplet's 3 images [S eq. 4];
#    CNN: l_triplet + l_a + l_c, G: l_triplet - l_a + l_c, unit weights
#    [S eqs. 6-7]; the unlabelled reals' adversary term [I];
#  - schedule: GAN pre-training iterations, then one CNN and one G step
#    per iteration [I]; Adam 2e-4 (0.5, 0.999) for G and D (DCGAN), the
#    CNN's optimizer in the leaves [?].
_base_ = ['../../_base_/default_runtime.py']

# CIFAR-10's 10 classes; the data bases define num_classes for leaves.
noise_size = 100
image_size = 32
model = dict(
    type='DSHGANs',
    data_preprocessor=dict(
        type='ClsDataPreprocessor', mean=[127.5] * 3, std=[127.5] * 3,
        to_rgb=True),
    generator=dict(type='DCGANGenerator', out_size=image_size,
                   noise_size=noise_size, base_channels=64,
                   num_classes=10),
    discriminator=dict(type='DCGANDiscriminator', in_size=image_size,
                       base_channels=64, num_classes=10,
                       conditioning='ac'),
    multi_label=False,
    losses=dict(
        triplet=dict(type='TripletHingeLoss', margin=1.0),
        adversary=dict(type='RealSyntheticLoss'),
        classification=dict(type='MultiHotClassificationLoss'),
        unlabelled_adversary=dict(type='RealSyntheticLoss')),
    # eq. 7: G minimises l_triplet - l_a + l_c (the minimax sign; the
    # non-saturating alternative is dict(type='RealSyntheticLoss',
    # flip_targets=True)).
    generator_losses=dict(
        triplet=dict(type='TripletHingeLoss', margin=1.0),
        adversary=dict(type='RealSyntheticLoss', loss_weight=-1.0),
        classification=dict(type='MultiHotClassificationLoss')),
    triplet_images='mean',
    joint_gan_loss_weight=0.0,
    generator_step_updates_bn=False,
    pretrain_iters=5000,
    disc_steps=1,
    gen_steps=1,
    hasher_steps=1,
    adv_loss='vanilla',
    noise_dist='uniform')

gan_optimizer = dict(type='Adam', lr=2e-4, betas=(0.5, 0.999))
optim_wrapper = dict(
    constructor='MultiOptimWrapperConstructor',
    generator=dict(optimizer=gan_optimizer),
    discriminator=dict(optimizer=gan_optimizer),
    hasher=dict(optimizer=dict(type='Adam', lr=1e-4, weight_decay=1e-5)))
# One DDP per sub-module; train_step is the model's own.
# Each rank draws its own noise (seed + rank): with one seed for all
# ranks, N GPUs would generate the same fakes N times.
randomness = dict(seed=0, deterministic=False, diff_rank_seed=True)
model_wrapper_cfg = dict(
    type='MMSeparateDistributedDataParallel', broadcast_buffers=False,
    find_unused_parameters=False)

train_cfg = dict(by_epoch=False, max_iters=30000, val_interval=5000)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=100),
    checkpoint=dict(
        type='AtomicCheckpointHook', interval=5000, by_epoch=False,
        max_keep_ckpts=2))
custom_hooks = [
    dict(type='WeightsOnlyCheckpointHook'),
    dict(type='GANSampleGridHook', interval=5000, num_samples=100),
]
log_processor = dict(by_epoch=False)
