# METAH, PACS photo -> cartoon, 32 bits; see the 16-bit config.
_base_ = ['./metah_resnet18w16_pacs-photo2cartoon_16bit.py']

model = dict(head=dict(num_bits=32))
