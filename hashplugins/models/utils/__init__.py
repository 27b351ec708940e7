from .similarity import label_similarity, labels_to_multihot

__all__ = ['label_similarity', 'labels_to_multihot']
