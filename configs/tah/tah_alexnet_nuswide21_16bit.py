# TAH, NUS-WIDE-21 single domain, 16 bits; see the 48-bit config.
_base_ = ['./tah_alexnet_nuswide21_48bit.py']

model = dict(head=dict(num_bits=16))
