# METAH on VisDA-2017 real -> synthetic, 48 bits: TAH's real->synthetic
# config (../tah/tah_alexnet_visda2017-real2syn_48bit.py) plus METAH's
# two parts (./_base_/metah.py), as in
# metah_alexnet_visda2017-syn2real_48bit.py.
_base_ = [
    '../tah/tah_alexnet_visda2017-real2syn_48bit.py',
    './_base_/metah.py',
]

model = dict(transfer_heads=dict(semantic={{_base_.semantic_head}}))
optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={{_base_.semantic_lr_keys}}))
custom_hooks = {{_base_.metah_hooks}}
