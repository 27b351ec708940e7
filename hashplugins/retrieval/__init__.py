"""Retrieval in practice: a savable binary index with exact (evaluation
engine) and faiss search, retrieval-grid pictures, and code statistics.

Pure numpy (+ optional faiss, matplotlib/PIL for pictures); models and
images enter through :mod:`hashplugins.apis`.
"""
from .binary_index import (BACKENDS, BinaryIndex, RangeResult, SearchResult,
                           config_hash)
from .index_file import FORMAT, FORMAT_VERSION, IndexFileError

__all__ = [
    'BinaryIndex', 'SearchResult', 'RangeResult', 'IndexFileError',
    'config_hash', 'BACKENDS', 'FORMAT', 'FORMAT_VERSION'
]
