# HashNet (Cao, Long, Wang, Yu, ICCV 2017) with an ImageNet-pretrained
# ResNet-50 on CIFAR-10 at 224 px, protocol (a): 1,000 queries, 5,000
# training images, 54,000 database images; mAP over the whole database.
# Data, batch (64) and SGD schedule are the DPSH ResNet-50 config's
# (inherited), so the baselines compare at equal budget.
_base_ = ['../dpsh/dpsh_r50_cifar10_48bit.py']

model = dict(
    head=dict(
        num_bits=48,
        activation='tanh',
        scale=1.0,  # beta of tanh(beta z), set by the continuation hook
        losses=dict(
            _delete_=True,
            # alpha = 10 / 48 (official rule; DeepHash-pytorch uses 0.1),
            # w_ij = |S|/|S1| or |S|/|S0| counted over the batch's pairs
            pairwise=dict(
                type='WeightedPairwiseLogisticLoss',
                scale=None,
                weighted=True,
                include_self_pairs=False))))

# Official ScaleTanH: init_scale 1, gamma 0.005, power 0.5, step_size 200
# (50 epochs x 79 iterations: beta reaches (1 + 0.005 * 3800)^0.5 = 4.5).
custom_hooks = [
    dict(type='WeightsOnlyCheckpointHook'),
    dict(type='ContinuationScheduleHook', module='head', attribute='scale',
         init=1.0, gamma=0.005, power=0.5, interval=200),
]
