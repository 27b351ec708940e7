# DSH (Liu, Wang, Shan, Chen, CVPR 2016) with an ImageNet-pretrained
# ResNet-50 on CIFAR-10 at 224 px, protocol (a): 1,000 queries, 5,000
# training images, 54,000 database images; mAP over the whole database.
# Data, batch (64) and SGD schedule are the DPSH ResNet-50 config's
# (inherited), so the baselines compare at equal budget.
_base_ = ['../dpsh/dpsh_r50_cifar10_48bit.py']

model = dict(
    head=dict(
        num_bits=48,
        # real-valued outputs b (the paper's last layer is linear)
        activation='identity',
        losses=dict(
            _delete_=True,
            # 1/2 s D + 1/2 (1 - s) max(m - D, 0) + alpha (prior_i + prior_j)
            # over the unique in-batch pairs, m = 2 x 48, alpha = 0.01
            pairwise=dict(
                type='PairwiseContrastiveLoss', margin=96., reg_weight=0.01,
                reduction='mean'))))
