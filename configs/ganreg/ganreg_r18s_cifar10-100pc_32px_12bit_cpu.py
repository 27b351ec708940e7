# ganreg stage 2 of the CPU-scale pair [I]: a ResNet-18 for 32 px images
# (ResNet_CIFAR, 16 base channels, from scratch) on CIFAR-10 with only 100
# labelled images/class (protocol per_class: 100 queries/class, database =
# the other 58,000 images, mAP@all); batches of 64 real + 64 fakes from the
# bank written from dcgan-s_cifar10-100pc_32px_stage1_cpu.py; Adam 1e-3,
# 30 epochs over the 1,000 labelled images.
_base_ = [
    './_base_/cifar10_100pc.py',
    '../_base_/schedules/adam_10e.py',
    '../_base_/default_runtime.py',
    './_base_/ganreg_stage2.py',
]
num_bits = 12
bank_root = 'data/ganreg/bank_cifar10-100pc'
model = dict(
    type='GANRegularizedHasher',
    backbone=dict(type='ResNet_CIFAR', depth=18, stem_channels=16,
                  base_channels=16, out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='HashHead', in_channels=128, num_bits=num_bits,
              num_classes=10, activation={{_base_.head_activation}},
              losses={{_base_.supervised_losses}}),
    fake_loss={{_base_.fake_loss}})

# The base's labelled training set becomes the real half of each batch.
train_dataloader = dict(
    batch_size=64,
    collate_fn=dict(type='real_fake_collate'),
    dataset=dict(
        _delete_=True,
        type='RealFakeDataset',
        real={{_base_.train_dataloader.dataset}},
        fake=dict(type='FakeImageBank', data_root=bank_root,
                  pipeline={{_base_.train_pipeline}}),
        fakes_per_real={{_base_.fakes_per_real}},
        seed=0))
param_scheduler = dict(T_max=30)
train_cfg = dict(max_epochs=30, val_interval=30)
default_hooks = dict(logger=dict(interval=10))
