from .gather import gather_batch, pad_to_common_width
from .grad_reverse import GradientReversal, grad_reverse
from .batch_rows import select_rows
from .batch_norm_statistics import frozen_batch_norm_statistics
from .device_checks import check_true
from .similarity import (check_label_range, label_similarity,
                         labels_to_multihot)
from .blockwise_similarity import (label_patterns, similar_pair_count,
                                   similarity_matmul)
from .discrete_code_update import (LogisticCodeProblem,
                                   QuadraticCodeObjective, closed_form_update,
                                   dcc_update, inner_product_code_objective)

__all__ = [
    'gather_batch', 'pad_to_common_width', 'GradientReversal', 'grad_reverse',
    'label_similarity', 'labels_to_multihot', 'label_patterns',
    'similar_pair_count', 'similarity_matmul', 'LogisticCodeProblem',
    'QuadraticCodeObjective', 'closed_form_update', 'dcc_update',
    'inner_product_code_objective', 'check_true', 'check_label_range',
    'select_rows', 'frozen_batch_norm_statistics'
]
