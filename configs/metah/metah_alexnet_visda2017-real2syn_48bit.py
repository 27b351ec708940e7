# METAH on VisDA-2017 real -> synthetic, 48 bits: TAH's real->synthetic
# config (../tah/tah_alexnet_visda2017-real2syn_48bit.py) plus METAH's
# classifier on the codes and target min-entropy, with the same
# reconstructed choices as metah_alexnet_visda2017-syn2real_48bit.py.
_base_ = ['../tah/tah_alexnet_visda2017-real2syn_48bit.py']

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
