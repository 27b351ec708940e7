# METAH on MNIST -> USPS, 16 bits: TAH's CPU-sized config
# (../tah/tah_lenet5_mnist2usps_16bit.py: LeNet-5 from scratch, MNIST
# labelled -> USPS unlabelled, 500 iterations, t-distribution pairwise +
# log-cosh quantization + gradient-reversal domain adversary) plus METAH's
# two parts (./_base_/metah.py). Used by benchmarks/metah_benchmark.py;
# data roots as in the TAH config.
_base_ = [
    '../tah/tah_lenet5_mnist2usps_16bit.py',
    './_base_/metah.py',
]

model = dict(transfer_heads=dict(semantic={{_base_.semantic_head}}))
optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={{_base_.semantic_lr_keys}}))
custom_hooks = {{_base_.metah_hooks}}
