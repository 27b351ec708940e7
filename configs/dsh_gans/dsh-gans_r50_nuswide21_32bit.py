_base_ = ['./dsh-gans_r50_nuswide21_48bit.py']
num_bits = 32
model = dict(hasher=dict(head=dict(num_bits=num_bits)))
