# ganreg stage 2 at paper scale [I]: ResNet-50 (ImageNet-1k) hasher on
# CIFAR-10 protocol (a) (500 labelled images/class, 1,000 queries, 54,000
# database images, mAP@all), 224 px; each batch holds 32 real images and 32
# fakes from the stage-1 bank (fakes resized like the real images).
# Backbone, schedule and data are not from the paper (abstract only [A]).
_base_ = [
    '../_base_/models/hasher_r50.py',
    '../_base_/datasets/cifar10_hashing_224.py',
    '../_base_/schedules/sgd_step_50e.py',
    '../_base_/default_runtime.py',
    './_base_/ganreg_stage2.py',
]
num_bits = 48
bank_root = 'data/ganreg/bank_cifar10-500pc'
model = dict(
    type='GANRegularizedHasher',
    head=dict(
        num_bits=num_bits,
        num_classes=10,
        activation={{_base_.head_activation}},
        losses={{_base_.supervised_losses}}),
    fake_loss={{_base_.fake_loss}})

# The base's labelled training set becomes the real half of each batch.
train_dataloader = dict(
    collate_fn=dict(type='real_fake_collate'),
    dataset=dict(
        _delete_=True,
        type='RealFakeDataset',
        real={{_base_.train_dataloader.dataset}},
        fake=dict(type='FakeImageBank', data_root=bank_root,
                  pipeline={{_base_.train_pipeline}}),
        fakes_per_real={{_base_.fakes_per_real}},
        seed=0))

# Fixed input sizes on a GPU: let cuDNN pick the fastest kernels.
env_cfg = dict(cudnn_benchmark=True)
