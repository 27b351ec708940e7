from .dadh_hasher import DualAsymmetricHasher
from .deep_hasher import DeepHasher
from .transfer_hasher import TransferHasher

__all__ = ['DeepHasher', 'TransferHasher']
