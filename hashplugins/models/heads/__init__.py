from .code_classifier_head import CodeClassifierHead
from .domain_discriminator import DomainDiscriminator
from .greedy_hash_head import GreedyHashHead
from .hash_head import HashHead

__all__ = ['HashHead', 'DomainDiscriminator']
