# CSQ (Yuan, Wang, Zhang, Tay, Xie, Feng, CVPR 2020) with an ImageNet-
# pretrained ResNet-50 on CIFAR-10 at 224 px, protocol (a): 1,000 queries,
# 5,000 training images, 54,000 database images; mAP over the whole
# database.
_base_ = [
    '../_base_/models/hasher_r50.py',
    '../_base_/datasets/cifar10_hashing_224.py',
    '../_base_/schedules/sgd_step_50e.py',
    '../_base_/default_runtime.py',
]

num_bits = 48
model = dict(
    head=dict(
        num_bits=num_bits,
        num_classes={{_base_.num_classes}},
        # BCE needs codes in [-1, 1]: tanh, as in the authors' network
        activation='tanh',
        losses=dict(
            # 48 bits is not a power of two: centres drawn per bit from
            # Bernoulli(1/2) (paper, Algorithm 1), seeded, so every rank and
            # every rerun has the same ones; kept in checkpoints
            center=dict(
                type='CentralSimilarityLoss',
                num_classes={{_base_.num_classes}},
                num_bits=num_bits,
                seed=0),
            # lambda * mean (|h| - 1)^2: lambda 0.05 in the authors' README
            # commands (DeepHash-pytorch: 1e-4)
            quant=dict(
                type='HashQuantizationLoss', mode='l2',
                loss_weight=0.05))))

# Batch 64: the authors' code and DeepHash-pytorch.
train_dataloader = dict(batch_size=64)

# Fixed input sizes on a GPU: let cuDNN pick the fastest kernels.
env_cfg = dict(cudnn_benchmark=True)
