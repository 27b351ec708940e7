# TAH (Cao, Long, Huang, Wang; AAAI 2018) on VisDA-2017 synthetic -> real,
# 48 bits (the official prototxt's num_output), following the official
# Caffe code thuml/TAH (models/train/synthetic/*.prototxt) [OC]:
#  - AlexNet conv1-5 + fc6/fc7 (4096, ReLU, dropout 0.5) -> fch (b) -> tanh;
#  - source half: t-distribution pairwise loss (numerator b//2, tau 15, all
#    64^2 ordered pairs, weight 1 = the official effective gradient weight;
#    the prototxt says 6 but the layer's backward ignores it) + log-cosh
#    quantization (weight 9);
#  - both halves: domain discriminator b-1024-1024-1 through gradient
#    reversal, weight 0.8, lambda_p = 2/(1+exp(-10p)) - 1, p = iter/10000;
#  - batches of 64 synthetic (labelled) + 64 real (unlabelled);
#  - resize 256x256, random crop 227, mirror; test centre crop 227;
#  - SGD 2e-5, momentum 0.9, wd 5e-4, x0.5 every 500 iterations, 10k iters,
#    lr x10/x20 for fch and the discriminator (see the schedule file).
# Lists: tools/dataset_converters/visda2017_to_lists.py (paper protocol:
# 100 queries/class from the real domain, the rest the database, 500
# training images/class in each domain).
#
# Pretrained weights: mmpretrain ships no ImageNet AlexNet; set
# model.backbone.init_cfg (and load fc6/fc7 into head.hidden) from converted
# CaffeNet weights to reproduce the paper. Normalization below is
# mmpretrain's ImageNet mean/std; Caffe subtracted the BGR mean image, so
# match whatever the converted weights expect.
_base_ = [
    '../_base_/models/hasher_alexnet.py',
    '../_base_/datasets/visda2017_list.py',
    '../_base_/schedules/tah_sgd_step_10k.py',
    '../_base_/default_runtime.py',
]

num_bits = 48
num_classes = 12

model = dict(
    type='TransferHasher',
    head=dict(
        num_bits=num_bits,
        num_classes=num_classes,
        losses=dict(
            pairwise=dict(
                type='TDistributionPairwiseLoss',
                sim_numerator='half_bits',
                threshold=15.,
                loss_weight=1.0),
            quant=dict(
                type='HashQuantizationLoss', mode='logcosh',
                loss_weight=9.0))),
    transfer_heads=dict(
        domain=dict(
            type='DomainDiscriminator',
            in_channels=num_bits,
            hidden_channels=(1024, 1024),
            dropout=0.5,
            init_std=(0.01, 0.01, 0.3),
            loss_weight=0.8)))

# The official Caffe transform: resize to 256x256 (aspect not kept), crop 227.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(256, 256)),
    dict(type='RandomCrop', crop_size=227),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackHashInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(256, 256)),
    dict(type='CenterCrop', crop_size=227),
    dict(type='PackHashInputs'),
]

# 64 pairs per iteration = 64 source + 64 target images.
train_dataloader = dict(
    batch_size=64,
    collate_fn=dict(type='transfer_collate'),
    dataset=dict(
        _delete_=True,
        type='TransferPairDataset',
        source=dict(
            type='HashingListDataset',
            data_root='data/visda2017',
            data_prefix='train',
            ann_file='lists/synthetic_train.txt',
            num_classes=num_classes,
            pipeline=train_pipeline),
        target=dict(
            type='HashingListDataset',
            data_root='data/visda2017',
            data_prefix='validation',
            ann_file='lists/real_train.txt',
            num_classes=num_classes,
            pipeline=train_pipeline),
        seed=0))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

# Table 2 metric: MAP within Hamming radius 2 (zero for an empty ball, as
# the official predict.py); mAP@all beside it.
val_evaluator = dict(
    _delete_=True,
    type='HammingRetrievalMetric', items=('MAP@H', 'mAP'), radius=2,
    topk=(None, ))
test_evaluator = val_evaluator

custom_hooks = [
    dict(type='WeightsOnlyCheckpointHook'),
    dict(type='GradientReversalScheduleHook', alpha=10., horizon=10000),
]

default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(by_epoch=False, interval=2000, max_keep_ckpts=2))
