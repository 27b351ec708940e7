# METAH, NUS-WIDE-21 (transductive target), 64 bits; see the 48-bit config.
_base_ = ['./metah_alexnet_nuswide21_48bit.py']

model = dict(head=dict(num_bits=64))
