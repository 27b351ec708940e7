# CIFAR-10 for hashing, resized to 224x224 for ImageNet-pretrained backbones
# (the DeepHash-pytorch setting). Protocol, data_root and split handling as
# in cifar10_hashing.py; only the pipelines and normalization differ.
_base_ = ['./cifar10_hashing.py']

num_classes = 10

# ImageNet statistics, because the backbone was pretrained on ImageNet.
data_preprocessor = dict(
    type='ClsDataPreprocessor',
    num_classes=num_classes,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(224, 224)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackHashInputs', num_classes=num_classes),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(224, 224)),
    dict(type='PackHashInputs', num_classes=num_classes),
]

train_dataloader = dict(batch_size=32, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=64, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
