# TAH-t, PACS photo -> cartoon, 32 bits; see the 16-bit TAH-t config.
_base_ = ['./tah-t_resnet18w16_pacs-photo2cartoon_16bit.py']

model = dict(head=dict(num_bits=32))
