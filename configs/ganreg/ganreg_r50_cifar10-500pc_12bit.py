_base_ = ['./ganreg_r50_cifar10-500pc_48bit.py']
num_bits = 12
model = dict(head=dict(num_bits=num_bits))
