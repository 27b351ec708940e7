# METAH on MNIST -> USPS, 16 bits: TAH's CPU-sized config
# (../tah/tah_lenet5_mnist2usps_16bit.py: LeNet-5 from scratch, MNIST
# labelled -> USPS unlabelled, 500 iterations, t-distribution pairwise +
# log-cosh quantization + gradient-reversal domain adversary) plus METAH's
# two parts (spec/methods.md §3; abstract only, so reconstructed):
#  - semantic preservation: a linear softmax classifier on the continuous
#    codes, cross-entropy on the source labels, weight alpha = 1 [?];
#  - min-entropy: mean softmax entropy of the classifier's responses to
#    the target codes, weight beta = 0.1 [?], ramped up with the RevGrad
#    schedule 2/(1+exp(-10p))-1 over the run [I] (early entropy
#    minimisation collapses the predictions);
#  - the classifier learns at lr x10 like the other new layers (fch and
#    the discriminator) [I].
# Used by benchmarks/metah_benchmark.py; data roots as in the TAH config.
_base_ = ['../tah/tah_lenet5_mnist2usps_16bit.py']

num_bits = 16
num_classes = 10
max_iters = 500

model = dict(
    transfer_heads=dict(
        semantic=dict(
            type='CodeClassifierHead',
            in_channels=num_bits,
            num_classes=num_classes,
            hidden_channels=(),
            multi_label=False,
            cls_weight=1.0,
            ent_weight=0.1)))

optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys={'transfer_heads.semantic.': dict(lr_mult=10.)}))

custom_hooks = [
    dict(type='WeightsOnlyCheckpointHook'),
    dict(type='GradientReversalScheduleHook', alpha=10., horizon=max_iters),
    dict(type='RampScheduleHook', module='transfer_heads.semantic',
         attribute='ent_ramp', alpha=10., horizon=max_iters),
]
