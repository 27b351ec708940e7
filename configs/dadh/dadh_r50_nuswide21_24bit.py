_base_ = ['./dadh_r50_nuswide21_48bit.py']

model = dict(
    stream_f=dict(head=dict(num_bits=24)),
    stream_g=dict(head=dict(num_bits=24)))
