_base_ = ['./dadh_r50_cifar10_48bit.py']

model = dict(
    stream_f=dict(head=dict(num_bits=32)),
    stream_g=dict(head=dict(num_bits=32)))
