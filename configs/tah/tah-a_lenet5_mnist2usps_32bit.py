# TAH-A, MNIST -> USPS, 32 bits; see tah-a_lenet5_mnist2usps_16bit.py.
_base_ = ['./tah-a_lenet5_mnist2usps_16bit.py']

model = dict(head=dict(num_bits=32))
