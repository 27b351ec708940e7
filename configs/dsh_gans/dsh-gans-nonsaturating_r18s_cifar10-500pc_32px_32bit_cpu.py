_base_ = ['./dsh-gans-nonsaturating_r18s_cifar10-500pc_32px_12bit_cpu.py']
num_bits = 32
model = dict(hasher=dict(head=dict(num_bits=num_bits)))
