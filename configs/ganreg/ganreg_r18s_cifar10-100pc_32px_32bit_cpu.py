_base_ = ['./ganreg_r18s_cifar10-100pc_32px_12bit_cpu.py']
num_bits = 32
model = dict(head=dict(num_bits=num_bits))
