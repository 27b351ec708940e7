# METAH on PACS photo -> cartoon, 16 bits: TAH's CPU-sized config
# (../tah/tah_resnet18w16_pacs-photo2cartoon_16bit.py: quarter-width
# ResNet-18 from scratch at 64 px, 32 + 32 images per iteration, 300
# iterations) plus METAH's classifier on the codes (source CE, alpha = 1
# [?]) and target min-entropy (beta = 0.1 [?], RevGrad-shaped ramp over the
# run [I]); classifier at lr x10 [I]. See
# metah_lenet5_mnist2usps_16bit.py for the reasoning.
_base_ = ['../tah/tah_resnet18w16_pacs-photo2cartoon_16bit.py']

num_bits = 16
num_classes = 7
max_iters = 300

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
