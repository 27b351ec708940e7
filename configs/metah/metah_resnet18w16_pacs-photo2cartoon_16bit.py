# METAH on PACS photo -> cartoon, 16 bits: TAH's CPU-sized config
# (../tah/tah_resnet18w16_pacs-photo2cartoon_16bit.py: quarter-width
# ResNet-18 from scratch at 64 px, 32 + 32 images per iteration, 300
# iterations) plus METAH's two parts (./_base_/metah.py).
_base_ = [
    '../tah/tah_resnet18w16_pacs-photo2cartoon_16bit.py',
    './_base_/metah.py',
]

model = dict(transfer_heads=dict(semantic={{_base_.semantic_head}}))
optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={{_base_.semantic_lr_keys}}))
custom_hooks = {{_base_.metah_hooks}}
