# METAH without the min-entropy term (ablation): classifier on the codes
# with the source cross-entropy only; see metah_lenet5_mnist2usps_16bit.py.
_base_ = ['./metah_lenet5_mnist2usps_16bit.py']

model = dict(transfer_heads=dict(semantic=dict(ent_weight=0.)))
