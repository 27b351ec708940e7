# TAH's method parts as the official Caffe code has them [OC]
# (thuml/TAH; spec/methods.md §2.2-2.5), shared by the configs in
# configs/tah/ (not a complete config: the leaves add backbone, code
# length, data and per-task loss weights):
#  - TransferHasher: one forward over 64 source + 64 target images, the
#    batch split by the samples' domain tag;
#  - source half: t-distribution pairwise loss (numerator b//2, tau 15, all
#    ordered pairs, weight 1 = the official effective weight) + log-cosh
#    quantization;
#  - both halves: domain discriminator b-1024-1024-1 through gradient
#    reversal, lambda_p = 2/(1+exp(-10p)) - 1, p = iter/horizon: the
#    paper's ramp [P] (the released code keeps lambda = 1 throughout, see
#    the tah-released_* configs);
#  - the official solver (../../_base_/schedules/tah_sgd_step_10k.py).
_base_ = [
    '../../_base_/schedules/tah_sgd_step_10k.py',
    '../../_base_/default_runtime.py',
]

model = dict(
    type='TransferHasher',
    head=dict(
        type='HashHead',
        activation='tanh',
        losses=dict(
            pairwise=dict(
                type='TDistributionPairwiseLoss',
                sim_numerator='half_bits',
                threshold=15.,
                loss_weight=1.0),
            quant=dict(
                type='HashQuantizationLoss', mode='logcosh',
                loss_weight=0.8))),
    transfer_heads=dict(
        domain=dict(
            type='DomainDiscriminator',  # in_channels: the code length
            hidden_channels=(1024, 1024),
            dropout=0.5,
            init_std=(0.01, 0.01, 0.3),
            loss_weight=1.0)))

custom_hooks = [
    dict(type='WeightsOnlyCheckpointHook'),
    dict(type='GradientReversalScheduleHook', alpha=10., horizon=10000),
]
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(by_epoch=False, interval=2000, max_keep_ckpts=2))

# TAH-t (paper Table 3) swaps the pairwise loss for DHN's inner-product
# cross-entropy, theta_ij = z_i.z_j / 2 over all ordered source pairs; the
# tah-t_* configs set model.head.losses.pairwise={{_base_.dhn_pairwise}}.
dhn_pairwise = dict(
    _delete_=True,
    type='PairwiseLogisticLoss',
    scale=0.5,
    include_self_pairs=True,
    loss_weight=1.0)
