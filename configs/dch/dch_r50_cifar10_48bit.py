# DCH (Cao, Long, Liu, Wang, CVPR 2018) with an ImageNet-pretrained ResNet-50
# on CIFAR-10 at 224 px, protocol (a): 1,000 queries, 5,000 training images,
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
        # tanh codes: the authors' code (with_tanh=True); DeepHash-pytorch
        # feeds the linear layer's output ('identity')
        activation='tanh',
        losses=dict(
            # paper Eq. 2, 6, 8: d = K/2 (1 - cos), |S|/|S1| and |S|/|S0|
            # pair weights, mean over the distinct ordered pairs of the
            # global batch; gamma 20 (authors' script, DeepHash-pytorch)
            pairwise=dict(type='CauchyCrossEntropyLoss', gamma=20.),
            # paper Eq. 9, lambda 0.1 (DeepHash-pytorch)
            quant=dict(
                type='CauchyQuantizationLoss', gamma=20.,
                loss_weight=0.1))))

# Batch 128: the authors' script and DeepHash-pytorch (more pairs per
# batch than DPSH's 64). The base schedule's lr is kept as is; it is for
# 1 GPU x batch 64, which --auto-scale-lr takes into account.
train_dataloader = dict(batch_size=128)

# Fixed input sizes on a GPU: let cuDNN pick the fastest kernels.
env_cfg = dict(cudnn_benchmark=True)

# mAP@all as for every CIFAR-10 config, plus what DCH is built for
# (Hamming space retrieval): MAP and precision within Hamming radius 2.
val_evaluator = dict(
    type='HammingRetrievalMetric', items=('mAP', 'MAP@H', 'P@H'),
    topk=(None, ), radius=2)
test_evaluator = val_evaluator
