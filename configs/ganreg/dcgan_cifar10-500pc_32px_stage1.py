# Stage 1 at paper scale [I]: DCGAN (64 base channels) on the 5,000
# labelled CIFAR-10 training images of protocol (a) (500/class; labels
# unused), 30k iterations of 64 images. Then write the bank:
#   python tools/gan_bank.py THIS_CONFIG work_dirs/<this>/iter_30000.pth \
#       data/ganreg/bank_cifar10-500pc --num 50000
_base_ = [
    '../_base_/datasets/cifar10_hashing.py',
    './_base_/dcgan_stage1.py',
]
train_dataloader = dict(
    batch_size=64,
    num_workers=2,
    dataset=dict(pipeline={{_base_.gan_pipeline}}),
    sampler=dict(type='InfiniteSampler', shuffle=True))
# No retrieval evaluation in stage 1: the hasher is evaluated in stage 2.
val_dataloader = None
val_cfg = None
val_evaluator = None
test_dataloader = None
test_cfg = None
test_evaluator = None

# Fixed input sizes on a GPU: let cuDNN pick the fastest kernels.
env_cfg = dict(cudnn_benchmark=True)
