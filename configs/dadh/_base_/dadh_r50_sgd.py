# DADH with two ImageNet-pretrained ResNet-50 streams (mmpretrain model zoo)
# and one SGD per stream; shared by the CIFAR-10 and NUS-WIDE-21 configs,
# which add the dataset, num_classes and the code length.
_base_ = [
    './dadh.py', '../../_base_/schedules/sgd_step_50e.py',
    '../../_base_/models/resnet50_in1k.py'
]

r50_stream = dict(
    type='DeepHasher',
    backbone={{_base_.resnet50_in1k}},
    neck=dict(type='GlobalAveragePooling'),
    # DADH applies tanh itself: the head gives the pre-activation F.
    head=dict(
        type='HashHead', in_channels=2048, num_bits=48,
        activation='identity'))

model = dict(
    # The streams may differ (e.g. stream_g=dict(backbone=dict(type='ResNet',
    # depth=101, ...))); the spec's two networks are not said to be equal.
    stream_f=r50_stream,
    stream_g=r50_stream)

# One SGD per stream, each the shared SGD schedule's optimizer (pretrained
# layers at the base lr, the new hash layer at 10x); its MultiStepLR and 50
# epochs (both streams on every batch, a B-step after each epoch) are
# inherited.
stream_optim = {{_base_.optim_wrapper}}
optim_wrapper = dict(
    _delete_=True,
    constructor='MultiOptimWrapperConstructor',
    stream_f=stream_optim,
    stream_g=stream_optim)

# Fixed input sizes on a GPU: let cuDNN pick the fastest kernels.
env_cfg = dict(cudnn_benchmark=True)
