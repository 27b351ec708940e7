# METAH without the min-entropy term (ablation): classifier on the codes
# with the source cross-entropy only; see
# metah_resnet18w16_pacs-photo2cartoon_16bit.py.
_base_ = ['./metah_resnet18w16_pacs-photo2cartoon_16bit.py']

model = dict(transfer_heads=dict(semantic=dict(ent_weight=0.)))
