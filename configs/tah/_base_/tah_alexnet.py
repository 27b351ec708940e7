# TAH with the official network [OC]: CaffeNet-style AlexNet conv1-5 +
# fc6/fc7 (4096, ReLU, dropout 0.5) -> fch (b) -> tanh, and the official
# Caffe transform as caffe_train_pipeline / caffe_test_pipeline (256x256
# resize, random 227 crop and mirror; test centre 227 crop). Shared by the VisDA and
# NUS-WIDE configs, which add data, code length and loss weights.
#
# Pretrained weights: mmpretrain ships no ImageNet AlexNet; set
# model.backbone.init_cfg (and load fc6/fc7 into head.hidden) from converted
# CaffeNet weights to reproduce the paper.
_base_ = ['./tah.py']

model = dict(
    backbone=dict(type='AlexNet', num_classes=-1),
    head=dict(
        in_channels=256 * 6 * 6, hidden_channels=(4096, 4096), dropout=0.5))

caffe_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(256, 256)),
    dict(type='RandomCrop', crop_size=227),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackHashInputs'),
]
caffe_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(256, 256)),
    dict(type='CenterCrop', crop_size=227),
    dict(type='PackHashInputs'),
]

# Fixed input sizes on a GPU: let cuDNN pick the fastest kernels.
env_cfg = dict(cudnn_benchmark=True)
