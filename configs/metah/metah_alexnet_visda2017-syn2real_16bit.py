# METAH, VisDA-2017 synthetic -> real, 16 bits; see the 48-bit config.
_base_ = ['./metah_alexnet_visda2017-syn2real_48bit.py']

model = dict(head=dict(num_bits=16))
