# TAH on MNIST -> USPS, 16 bits: a CPU-sized stand-in for the VisDA task,
# used by benchmarks/tah_benchmark.py. The TAH method is the official one
# (t-distribution pairwise loss with numerator b//2 and tau 15 on the
# labelled source half, log-cosh quantization, domain discriminator
# b-1024-1024-1 through gradient reversal with the RevGrad schedule,
# 64 source + 64 target images per iteration, SGD with momentum 0.9 and
# wd 5e-4, lr halved at fixed steps, Caffe-style lr multipliers). What is
# scaled down for a 2-core CPU [I]:
#  - backbone: mmpretrain LeNet5 from scratch on 32x32 gray digits (MNIST
#    28->32, USPS 16->32), fch directly on its 120-d output (no fc6/fc7);
#  - 500 iterations, base lr 0.01 (training from scratch, not 2e-5
#    fine-tuning; fch and discriminator at x10/x20 as officially), lr x0.5
#    every 100 iterations (the official x0.5 every 1/20 of the run would
#    stop learning halfway through so short a run), gradient-reversal
#    horizon = the run length (as officially: 10k/10k);
#  - loss weights of the official real->synthetic prototxt (quantization
#    0.8, domain 1.0; pairwise 1).
# Data: labelled MNIST train split (500/class, 5,000) as source; USPS
# protocol 'b' as target: 500/class unlabelled training images drawn from
# the database, 100/class queries (1,000), database = the other 8,298 (the
# TAH protocol shape). Both images are normalized with MNIST statistics.
# data_root: link the shared copies, e.g. ln -s ../../shared/data/mnist
# data/mnist and ln -s ../../shared/data/usps data/usps.
_base_ = ['./_base_/tah.py']

num_bits = 16
num_classes = 10
max_iters = 500

data_preprocessor = dict(
    type='ClsDataPreprocessor',
    num_classes=num_classes,
    mean=[33.3285],
    std=[78.5655],
    to_rgb=False)

model = dict(
    backbone=dict(type='LeNet5'),
    head=dict(in_channels=120, num_bits=num_bits, num_classes=num_classes))

pipeline = [
    dict(type='Resize', scale=(32, 32)),
    dict(type='PackHashInputs', num_classes=num_classes),
]
source_dataset = dict(
    type='MNISTHashing',
    data_root='data/mnist',
    split='train',
    protocol='a',
    seed=0,
    three_channels=False,
    pipeline=pipeline)
target_dataset = dict(
    type='USPSHashing',
    data_root='data/usps',
    split='train',
    protocol='b',
    seed=0,
    three_channels=False,
    pipeline=pipeline)

train_dataloader = dict(
    drop_last=True,  # full 64 + 64 batches only, as Caffe's [OC]
    batch_size=64,
    num_workers=0,
    collate_fn=dict(type='transfer_collate'),
    dataset=dict(
        type='TransferPairDataset',
        source=source_dataset,
        target=target_dataset,
        seed=0),
    sampler=dict(type='DefaultSampler', shuffle=True))

val_dataloader = dict(
    batch_size=256,
    num_workers=0,
    dataset=dict(
        type='QueryDatabaseDataset',
        query=dict(
            type='USPSHashing', data_root='data/usps', split='query',
            protocol='b', seed=0, three_channels=False, domain_id=1),
        database=dict(
            type='USPSHashing', data_root='data/usps', split='database',
            protocol='b', seed=0, three_channels=False, domain_id=1),
        pipeline=pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
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
