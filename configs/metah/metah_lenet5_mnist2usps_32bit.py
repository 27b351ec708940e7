# METAH, MNIST -> USPS, 32 bits; see the 16-bit config.
_base_ = ['./metah_lenet5_mnist2usps_16bit.py']

model = dict(head=dict(num_bits=32))
