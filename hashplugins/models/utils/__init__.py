from .gather import gather_batch, pad_to_common_width
from .similarity import label_similarity, labels_to_multihot

__all__ = ['gather_batch', 'pad_to_common_width', 'label_similarity', 'labels_to_multihot']
