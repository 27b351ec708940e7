# DSH-GANs at paper scale [I]: ResNet-50 (ImageNet) hashing CNN, 32 px
# conditional DCGAN, CIFAR-10 protocol (b) with 500 labelled images/class
# and the other 54,000 database images as the unlabelled pool; mAP@all
# over 1,000 queries and 59,000 database images. 5,000 GAN pre-training
# iterations, then 25,000 joint iterations of 64 labelled + 64 unlabelled
# images [?].
_base_ = [
    './_base_/semi_cifar10.py',
    './_base_/dsh_gans_r50.py',
]
num_bits = 48
model = dict(hasher=dict(head=dict(num_bits=num_bits)))
