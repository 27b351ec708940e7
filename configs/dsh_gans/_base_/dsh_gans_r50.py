# The hashing CNN at paper scale [?: the paper's backbone is unknown]: an
# ImageNet ResNet-50 (mmpretrain model zoo) shared by the adversary, hash
# and classification streams; 32/64 px real and synthetic images are
# resized to 224 inside the network (spec §4.2 [I]).
_base_ = ['./dsh_gans.py']
hasher = dict(
    type='ThreeStreamHashNet',
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
              activation='sigmoid'),
    num_classes=10,
    input_size=224)
model = dict(hasher=hasher)
