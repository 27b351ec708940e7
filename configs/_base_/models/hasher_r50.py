# ResNet-50 (ImageNet-1k, mmpretrain model zoo) -> GAP -> 2048 -> B bits, tanh.
# The checkpoint URL is fetched by mmengine at build time; tests never do.
model = dict(
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
    head=dict(type='HashHead', in_channels=2048, num_bits=48,
              activation='tanh', losses=dict()),
)
