from .deep_hasher import DeepHasher

__all__ = ['DeepHasher']
