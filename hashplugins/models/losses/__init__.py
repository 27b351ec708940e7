from .pairwise_logistic_loss import (PairwiseLogisticLoss,
                                     pairwise_logistic_loss)
from .quantization_loss import HashQuantizationLoss, quantization_loss
from .asymmetric_pairwise_loss import (AsymmetricInnerProductLoss,
                                       AsymmetricPairwiseLogisticLoss,
                                       asymmetric_inner_product_loss,
                                       similarity_affine)
from .bit_balance_loss import BitBalanceLoss
from .class_response_losses import (class_response_entropy,
                                    code_classification_loss)
from .feature_code_gap_loss import FeatureCodeGapLoss
from .max_entropy_loss import MaxEntropyLoss, max_entropy_loss
from .multi_hot_classification_loss import (MultiHotClassificationLoss,
                                            multi_hot_classification_loss)
from .real_synthetic_loss import RealSyntheticLoss, real_synthetic_loss
from .sampled_triplet_loss import SampledTripletLoss, sample_batch_triplets
from .triplet_hinge_loss import TripletHingeLoss, triplet_hinge_loss
from .triplet_ranking_loss import TripletRankingLoss, triplet_ranking_loss
from .t_distribution_pairwise_loss import (TDistributionPairwiseLoss,
                                           t_distribution_pairwise_loss)
from .weighted_pairwise_logistic_loss import (
    WeightedPairwiseLogisticLoss, pair_weights,
    weighted_pairwise_logistic_loss)
from .pairwise_contrastive_loss import (PairwiseContrastiveLoss,
                                        pairwise_contrastive_loss)
from .cauchy_cross_entropy_loss import (CauchyCrossEntropyLoss,
                                        CauchyQuantizationLoss,
                                        cauchy_cross_entropy,
                                        cauchy_distance, cauchy_quantization)
from .central_similarity_loss import (CentralSimilarityLoss,
                                      central_similarity_loss,
                                      hadamard_matrix, make_hash_centers)

__all__ = [
    'PairwiseLogisticLoss', 'pairwise_logistic_loss', 'HashQuantizationLoss',
    'quantization_loss', 'TDistributionPairwiseLoss',
    't_distribution_pairwise_loss'
]
