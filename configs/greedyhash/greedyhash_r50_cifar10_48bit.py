# GreedyHash (Su, Zhang, Han, Tian, NeurIPS 2018) with an ImageNet-pretrained
# ResNet-50 on CIFAR-10 at 224 px, protocol (a): 1,000 queries, 5,000
# training images, 54,000 database images; mAP over the whole database.
_base_ = [
    '../_base_/models/hasher_r50.py',
    '../_base_/datasets/cifar10_hashing_224.py',
    '../_base_/schedules/sgd_step_50e.py',
    '../_base_/default_runtime.py',
]

model = dict(
    head=dict(
        type='GreedyHashHead',
        num_bits=48,
        num_classes={{_base_.num_classes}},
        # the paper's linear hash layer h; b = sgn(h) in the forward pass,
        # gradient passed straight through to h
        activation='identity',
        # softmax CE of a bias-free linear classifier on b (authors' code)
        cls_loss=dict(type='MultiHotClassificationLoss'),
        losses=dict(
            # alpha * mean | |h| - 1 |^3, alpha = 0.1 for CIFAR-10 in the
            # authors' cifar1.py/cifar2.py and DeepHash-pytorch (1 for
            # ImageNet in both)
            penalty=dict(
                type='HashQuantizationLoss', mode='cubic',
                loss_weight=0.1))))

# The authors' optimiser (ssppp/GreedyHash cifar1.py, the 1,000-query
# CIFAR-10 protocol): SGD, lr 1e-3, momentum 0.9, weight decay 5e-4, one lr
# for every layer (the new hash layer and classifier get no 10x, unlike the
# base schedule), batch 32, 50 epochs, lr x0.1 after epoch 30.
# DeepHash-pytorch: the same SGD at batch 64, x0.1 every 30 of 200 epochs.
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.001, momentum=0.9, weight_decay=5e-4))
param_scheduler = dict(
    type='MultiStepLR', by_epoch=True, milestones=[30], gamma=0.1)
train_dataloader = dict(batch_size=32)
# For --auto-scale-lr: the lr above is for 1 GPU x batch 32.
auto_scale_lr = dict(base_batch_size=32)

# Fixed input sizes on a GPU: let cuDNN pick the fastest kernels.
env_cfg = dict(cudnn_benchmark=True)
