from .dadh_hasher import DualAsymmetricHasher
from .deep_hasher import DeepHasher

__all__ = ['DeepHasher']
