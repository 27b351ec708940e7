# TAH-t (paper Table 3): TAH with the t-distribution pairwise loss replaced
# by DHN's inner-product pairwise cross-entropy, theta_ij = z_i.z_j / 2,
# log(1 + e^theta) - s theta averaged over all ordered source pairs (the
# existing PairwiseLogisticLoss); adversarial part and quantization kept.
_base_ = ['./tah_lenet5_mnist2usps_16bit.py']

model = dict(head=dict(losses=dict(pairwise={{_base_.dhn_pairwise}})))
