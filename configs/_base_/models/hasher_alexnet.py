# AlexNet conv1-5 (mmpretrain) + fc6/fc7 as the hash head's hidden layers
# (4096-4096, ReLU, dropout 0.5) -> B bits, tanh: the DPSH/DHN/TAH-era
# network. mmpretrain ships no ImageNet AlexNet checkpoint; point
# backbone.init_cfg at converted CaffeNet/torchvision weights to fine-tune.
model = dict(
    type='DeepHasher',
    backbone=dict(type='AlexNet', num_classes=-1),
    head=dict(
        type='HashHead',
        in_channels=256 * 6 * 6,
        hidden_channels=(4096, 4096),
        dropout=0.5,
        num_bits=48,
        activation='tanh',
        losses=dict()),
)
