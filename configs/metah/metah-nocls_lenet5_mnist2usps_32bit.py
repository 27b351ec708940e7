# METAH without the classification (semantic preservation) loss
# (ablation): the classifier on the codes is trained only through the
# target min-entropy term; see metah_lenet5_mnist2usps_32bit.py.
_base_ = ['./metah_lenet5_mnist2usps_32bit.py']

model = dict(transfer_heads=dict(semantic=dict(cls_weight=0.)))
