# METAH without the classification (semantic preservation) loss
# (ablation): the classifier on the codes is trained only through the
# target min-entropy term; see
# metah_resnet18w16_pacs-photo2cartoon_16bit.py.
_base_ = ['./metah_resnet18w16_pacs-photo2cartoon_16bit.py']

model = dict(transfer_heads=dict(semantic=dict(cls_weight=0.)))
