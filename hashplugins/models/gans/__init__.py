from .dcgan_discriminator import DCGANDiscriminator
from .dcgan_generator import DCGANGenerator
from .gan_utils import (adversarial_loss, gather_log_vars, sample_noise,
                        set_requires_grad)
from .hashing_gan import HashingGAN

__all__ = [
    'DCGANGenerator', 'DCGANDiscriminator', 'HashingGAN', 'set_requires_grad',
    'gather_log_vars', 'sample_noise', 'adversarial_loss'
]
