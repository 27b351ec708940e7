"""A backbone loads an mmpretrain classifier checkpoint through init_cfg,
as the model-zoo URLs in our configs do (here from a local file)."""
import torch
from mmengine.registry import DefaultScope
from mmpretrain.registry import MODELS

import hashplugins  # noqa: F401


def test_backbone_loads_local_mmpretrain_checkpoint(tmp_path):
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        classifier = MODELS.build(
            dict(
                type='ImageClassifier',
                backbone=dict(type='ResNet_CIFAR', depth=18),
                neck=dict(type='GlobalAveragePooling'),
                head=dict(type='LinearClsHead', num_classes=10,
                          in_channels=512)))
        classifier.init_weights()
        # What a model-zoo file holds: a plain state dict plus meta.
        path = tmp_path / 'resnet18_cifar.pth'
        torch.save({'state_dict': classifier.state_dict(),
                    'meta': {'dataset_meta': {'classes': list('0123456789')}}},
                   path)
        hasher = MODELS.build(
            dict(
                type='DeepHasher',
                backbone=dict(
                    type='ResNet_CIFAR',
                    depth=18,
                    init_cfg=dict(type='Pretrained', checkpoint=str(path),
                                  prefix='backbone')),
                neck=dict(type='GlobalAveragePooling'),
                head=dict(type='HashHead', in_channels=512, num_bits=32)))
        before = hasher.backbone.conv1.weight.detach().clone()
        hasher.init_weights()
    expected = classifier.backbone.state_dict()
    loaded = hasher.backbone.state_dict()
    assert not torch.equal(before, loaded['conv1.weight'])
    for key, value in expected.items():
        assert torch.equal(loaded[key], value), key
