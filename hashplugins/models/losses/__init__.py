from .pairwise_logistic_loss import (PairwiseLogisticLoss,
                                     pairwise_logistic_loss)
from .quantization_loss import HashQuantizationLoss, quantization_loss

__all__ = [
    'PairwiseLogisticLoss', 'pairwise_logistic_loss', 'HashQuantizationLoss',
    'quantization_loss'
]
