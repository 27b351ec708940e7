# DSH-GANs without the adversary stream: the CNN minimises l_triplet + l_c
# on the same real-synthetic triplets, G minimises l_triplet + l_c (no
# real/synthetic term on either side, the stream frozen); GAN
# pre-training, data and budget as the full method.
_base_ = ['./dsh-gans_r18s_cifar10-500pc_32px_12bit_cpu.py']
model = dict(
    losses=dict(adversary=None, unlabelled_adversary=None),
    generator_losses=dict(adversary=None))
