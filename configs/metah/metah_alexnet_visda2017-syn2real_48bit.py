# METAH on VisDA-2017 synthetic -> real, 48 bits: TAH's official-code
# config (../tah/tah_alexnet_visda2017-syn2real_48bit.py: AlexNet + fch,
# t-distribution pairwise + quantization 9 + domain adversary 0.8, 64 + 64
# images, SGD 2e-5, 10k iterations) plus METAH's two parts
# (spec/methods.md §3; abstract only):
#  - semantic preservation: linear softmax classifier on the continuous
#    codes, source cross-entropy, alpha = 1 [?];
#  - min-entropy on the target (real) codes' class responses, beta = 0.1
#    [?], ramped with the RevGrad schedule over the 10k iterations [I];
#  - classifier at lr x10 / bias x10 like the discriminator [I].
# VisDA-2017 is the likely first of the paper's two datasets [I]. Not
# trained here (needs VisDA-2017, CaffeNet weights and a GPU).
_base_ = ['../tah/tah_alexnet_visda2017-syn2real_48bit.py']

num_bits = 48
num_classes = 12

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
    dict(type='GradientReversalScheduleHook', alpha=10., horizon=10000),
    dict(type='RampScheduleHook', module='transfer_heads.semantic',
         attribute='ent_ramp', alpha=10., horizon=10000),
]
