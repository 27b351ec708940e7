# DPSH (Li, Wang, Kang, IJCAI 2016) with an ImageNet-pretrained ResNet-50 on
# CIFAR-10 at 224 px, protocol (a): 1,000 queries, 5,000 training images,
# 54,000 database images; mAP over the whole database.
_base_ = [
    '../_base_/models/hasher_r50.py',
    '../_base_/datasets/cifar10_hashing_224.py',
    '../_base_/schedules/sgd_step_50e.py',
    '../_base_/default_runtime.py',
]

model = dict(
    head=dict(
        num_bits=48,
        num_classes={{_base_.num_classes}},
        losses=dict(
            # Theta_ij = 1/2 u_i^T u_j, all ordered in-batch pairs
            pairwise=dict(type='PairwiseLogisticLoss', scale=0.5),
            # eta * ||b - u||^2; DPSH's eta is a hyper-parameter (0.1 here)
            quant=dict(
                type='HashQuantizationLoss', mode='l2', loss_weight=0.1))))

train_dataloader = dict(batch_size=64)

# Fixed input sizes on a GPU: let cuDNN pick the fastest kernels.
env_cfg = dict(cudnn_benchmark=True)
