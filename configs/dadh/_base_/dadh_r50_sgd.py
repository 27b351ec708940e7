# DADH with two ImageNet-pretrained ResNet-50 streams (mmpretrain model zoo)
# and one SGD per stream; shared by the CIFAR-10 and NUS-WIDE-21 configs,
# which add the dataset, num_classes and the code length.
_base_ = ['./dadh.py']

r50_stream = dict(
    type='DeepHasher',
    backbone=dict(
        type='ResNet',
        depth=50,
        num_stages=4,
        out_indices=(3, ),
        style='pytorch',
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://download.openmmlab.com/mmclassification/v0/'
            'resnet/resnet50_8xb32_in1k_20210831-ea4938fc.pth',
            prefix='backbone')),
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

# One SGD per stream, with the pretrained layers at the base lr and the new
# hash layer at 10x, as the DPSH-era Caffe solvers did.
stream_optim = dict(
    optimizer=dict(type='SGD', lr=0.001, momentum=0.9, weight_decay=5e-4),
    paramwise_cfg=dict(custom_keys={'head': dict(lr_mult=10.)}))
optim_wrapper = dict(
    constructor='MultiOptimWrapperConstructor',
    stream_f=stream_optim,
    stream_g=stream_optim)
param_scheduler = dict(
    type='MultiStepLR', by_epoch=True, milestones=[30, 45], gamma=0.1)
# 50 epochs = 25 per stream and 25 B-steps.
train_cfg = dict(by_epoch=True, max_epochs=50, val_interval=10)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=64)
