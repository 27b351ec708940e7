# TAH-A, PACS photo -> cartoon, 32 bits; see the 16-bit TAH-A config.
_base_ = ['./tah-a_resnet18w16_pacs-photo2cartoon_16bit.py']

model = dict(head=dict(num_bits=32))
