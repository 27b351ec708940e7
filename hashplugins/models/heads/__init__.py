from .code_classifier_head import CodeClassifierHead
from .domain_discriminator import DomainDiscriminator
from .hash_head import HashHead

__all__ = ['HashHead', 'DomainDiscriminator']
