# TAH, VisDA-2017 real -> synthetic, 16 bits; see the 48-bit config.
_base_ = ['./tah_alexnet_visda2017-real2syn_48bit.py']

model = dict(head=dict(num_bits=16))
