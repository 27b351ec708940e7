# DADH (Li, Zhang, Lu, Zhang, arXiv 1801.08360) on MNIST, the small real
# config: two LeNet-5 streams trained from scratch on 2 CPU cores in a few
# minutes. Protocol 'a': 1,000 queries, 5,000 training images, the other
# 64,000 as database; mAP over the whole database.
#
# MNIST is read from data/mnist (the four official idx files, gzipped or
# not). For the shared copy, from the repository root:
#   mkdir -p data && ln -s ../../shared/data/mnist data/mnist
_base_ = [
    '../_base_/datasets/mnist_hashing.py',
    '../_base_/schedules/adam_10e.py',
    './_base_/dadh.py',
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

lenet5_stream = dict(
    type='DeepHasher',
    backbone=dict(type='LeNet5'),
    # DADH applies tanh itself: the head gives the pre-activation F.
    head=dict(
        type='HashHead', in_channels=120, num_bits=16,
        activation='identity'))
model = dict(
    num_classes=10, stream_f=lenet5_stream, stream_g=lenet5_stream)

# One Adam per stream (the spec's Theta_x / Theta_y steps), each the short
# CPU schedule's optimizer; its cosine decay and 10 epochs (both streams on
# every batch, a B-step after each epoch) are inherited.
stream_optim = {{_base_.optim_wrapper}}
optim_wrapper = dict(
    _delete_=True,
    constructor='MultiOptimWrapperConstructor',
    stream_f=stream_optim,
    stream_g=stream_optim)
train_cfg = dict(val_interval=10)

default_hooks = dict(logger=dict(interval=20))
