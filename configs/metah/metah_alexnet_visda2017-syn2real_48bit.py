# METAH on VisDA-2017 synthetic -> real, 48 bits: TAH's official-code
# config (../tah/tah_alexnet_visda2017-syn2real_48bit.py: AlexNet + fch,
# t-distribution pairwise + quantization 9 + domain adversary 0.8, 64 + 64
# images, SGD 2e-5, 10k iterations) plus METAH's two parts
# (./_base_/metah.py; the classifier at lr x10 / bias x10 like the
# discriminator [I]). VisDA-2017 is the likely first of the paper's two
# datasets [I]. Not trained here (needs VisDA-2017, CaffeNet weights and a
# GPU).
_base_ = [
    '../tah/tah_alexnet_visda2017-syn2real_48bit.py',
    './_base_/metah.py',
]

model = dict(transfer_heads=dict(semantic={{_base_.semantic_head}}))
optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={{_base_.semantic_lr_keys}}))
custom_hooks = {{_base_.metah_hooks}}
