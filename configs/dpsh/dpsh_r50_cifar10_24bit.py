_base_ = ['./dpsh_r50_cifar10_48bit.py']

model = dict(head=dict(num_bits=24))
