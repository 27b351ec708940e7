from .hamming_retrieval import HammingRetrievalMetric

__all__ = ['HammingRetrievalMetric']
