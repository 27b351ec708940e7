# Stage 1 of the CPU-scale pair [I]: a small DCGAN (32 base channels, 64-d
# noise) on the labelled subset used in stage 2 (100 images/class of
# CIFAR-10 protocol (a); labels unused), 2,000 iterations of 64 images:
# a few minutes on 2 CPU cores. Bank:
#   python tools/gan_bank.py THIS_CONFIG work_dirs/<this>/iter_2000.pth \
#       data/ganreg/bank_cifar10-100pc --num 5000
_base_ = ['./dcgan_cifar10-500pc_32px_stage1.py']
noise_size = 64
model = dict(
    generator=dict(noise_size=noise_size, base_channels=32),
    discriminator=dict(base_channels=32))
small_protocol = dict(kind='per_class', num_query_per_class=100,
                      num_train_per_class=100, database='rest')
train_dataloader = dict(
    dataset=dict(protocol=dict(_delete_=True, **small_protocol)),
    num_workers=0)
train_cfg = dict(max_iters=2000)
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(interval=1000))
custom_hooks = [
    dict(type='WeightsOnlyCheckpointHook'),
    dict(type='GANSampleGridHook', interval=500, num_samples=64),
]
