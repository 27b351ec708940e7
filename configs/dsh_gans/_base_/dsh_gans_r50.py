# The hashing CNN at paper scale [?: the paper's backbone is unknown]: an
# ImageNet ResNet-50 (mmpretrain model zoo) shared by the adversary, hash
# and classification streams; 32/64 px real and synthetic images are
# resized to 224 inside the network (spec §4.2 [I]).
_base_ = ['./dsh_gans.py', '../../_base_/models/resnet50_in1k.py']
hasher = dict(
    type='ThreeStreamHashNet',
    backbone={{_base_.resnet50_in1k}},
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='HashHead', in_channels=2048, num_bits=48,
              activation='sigmoid'),
    num_classes=10,
    input_size=224)
model = dict(hasher=hasher)

# Fixed input sizes on a GPU: let cuDNN pick the fastest kernels.
env_cfg = dict(cudnn_benchmark=True)
