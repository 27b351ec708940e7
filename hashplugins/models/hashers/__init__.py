from .dadh_hasher import DualAsymmetricHasher
from .deep_hasher import DeepHasher
from .transfer_hasher import TransferHasher
from .gan_regularized_hasher import GANRegularizedHasher

__all__ = ['DeepHasher', 'TransferHasher']
from .three_stream_net import ThreeStreamHashNet  # noqa: F401
from .dsh_gans import DSHGANs  # noqa: F401
from .real_triplet_hasher import RealTripletHasher  # noqa: F401
