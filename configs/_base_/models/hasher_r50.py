# ResNet-50 (ImageNet-1k, mmpretrain model zoo) -> GAP -> 2048 -> B bits, tanh.
_base_ = ['./resnet50_in1k.py']
model = dict(
    type='DeepHasher',
    backbone={{_base_.resnet50_in1k}},
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='HashHead', in_channels=2048, num_bits=48,
              activation='tanh', losses=dict()),
)
