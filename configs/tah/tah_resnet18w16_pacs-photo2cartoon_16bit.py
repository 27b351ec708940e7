# TAH on PACS photo -> cartoon, 16 bits: a CPU-sized stand-in for the VisDA
# task with natural images, used by benchmarks/tah_benchmark.py. The TAH
# method is the official one (see tah_lenet5_mnist2usps_16bit.py for the
# list); scaled down for a 2-core CPU [I]:
#  - backbone: mmpretrain ResNet-18 with 16 stem/base channels (a quarter of
#    the usual width) from scratch, global average pooling, fch on the 128-d
#    feature; images 128 px -> resized to 72x72, random 64x64 crop and
#    mirror for training, centre 64x64 crop for testing (the 256/227 ratio
#    of the official transform);
#  - batches of 32 source + 32 target images (official 64 + 64),
#  - 300 iterations, base lr 0.01 (from scratch; fch and discriminator at
#    x10/x20 as officially), lr x0.5 every 60 iterations, gradient-reversal
#    horizon = the run length; official real->synthetic loss weights
#    (quantization 0.8, domain 1.0; pairwise 1).
# Data: every photo image (1,670, labelled) as source; cartoon protocol 'b'
# of PACSDomain as target: 20 queries/class (140), database = the other
# 2,204, 100/class unlabelled training images (700) drawn from the database.
# data_root: the shared copy, e.g. ln -s ../../shared/data/pacs data/pacs.
_base_ = ['./_base_/tah.py', '../_base_/datasets/pacs_cartoon.py']

num_bits = 16
num_classes = 7
max_iters = 300
target_domain = 'cartoon'

model = dict(
    backbone=dict(
        type='ResNet',
        depth=18,
        stem_channels=16,
        base_channels=16,
        out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(in_channels=128, num_bits=num_bits, num_classes=num_classes))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(72, 72)),
    dict(type='RandomCrop', crop_size=64),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackHashInputs', num_classes=num_classes),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(72, 72)),
    dict(type='CenterCrop', crop_size=64),
    dict(type='PackHashInputs', num_classes=num_classes),
]
source_dataset = dict(
    type='PACSDomain',
    data_root='data/pacs',
    domain='photo',
    split='all',
    pipeline=train_pipeline)
target_dataset = dict(
    type='PACSDomain',
    data_root='data/pacs',
    domain=target_domain,
    split='train',
    protocol='b',
    seed=0,
    pipeline=train_pipeline)

train_dataloader = dict(
    drop_last=True,  # only full source + target batches, as in Caffe [OC]
    batch_size=32,
    num_workers=0,
    collate_fn=dict(type='transfer_collate'),
    dataset=dict(
        _delete_=True,
        type='TransferPairDataset',
        source=source_dataset,
        target=target_dataset,
        seed=0))

# Queries and database: the target domain, as in the base config (protocol
# 'b'), with the 64 px test transform.
val_dataloader = dict(
    batch_size=128,
    num_workers=0,
    dataset=dict(
        query=dict(domain=target_domain),
        database=dict(domain=target_domain),
        pipeline=test_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(
    type='HammingRetrievalMetric', items=('MAP@H', 'mAP'), radius=2,
    topk=(None, ))
test_evaluator = val_evaluator

optim_wrapper = dict(optimizer=dict(lr=0.01))
param_scheduler = dict(step_size=max_iters // 5)
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)

custom_hooks = [
    dict(type='WeightsOnlyCheckpointHook'),
    dict(type='GradientReversalScheduleHook', alpha=10., horizon=max_iters),
]
default_hooks = dict(checkpoint=dict(interval=max_iters, max_keep_ckpts=1))
