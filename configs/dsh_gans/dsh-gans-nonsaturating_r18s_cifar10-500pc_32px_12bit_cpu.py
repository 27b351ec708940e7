# DSH-GANs with the non-saturating generator adversary term: G minimises
# -log P(real | G(z, y)) instead of eq. 7's -l_a = log P(synthetic | G(z, y)),
# whose gradient vanishes once the CNN's adversary stream tells the fakes
# apart. A diagnosis of the benchmark, not the default.
_base_ = ['./dsh-gans_r18s_cifar10-500pc_32px_12bit_cpu.py']
model = dict(generator_losses=dict(adversary=dict(
    type='RealSyntheticLoss', flip_targets=True, loss_weight=1.0)))
