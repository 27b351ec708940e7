# TAH-t, MNIST -> USPS, 32 bits; see tah-t_lenet5_mnist2usps_16bit.py.
_base_ = ['./tah-t_lenet5_mnist2usps_16bit.py']

model = dict(head=dict(num_bits=32))
