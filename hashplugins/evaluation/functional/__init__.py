"""Hamming-ranking retrieval metrics: pure numpy (CPU) / torch (any device)
math with no mmengine dependency.

Semantics (see ``docs/evaluation.md``): codes are ±1 with ``sign(0) = +1``;
an item is relevant when it shares a label with the query; AP is normalized
by the relevant items retrieved; ``zero_hit`` and ``tie_break`` name the two
conventions that differ between published code bases.
"""
from .average_precision import (MeanAPRequest, RadiusMAPRequest,
                                map_within_radius, mean_average_precision)
from .codes import binarize, pack_codes, unpack_codes
from .engine import run_pass
from .evaluate import (METRIC_FAMILIES, build_requests,
                       hamming_retrieval_metrics)
from .hamming import hamming_distance
from .io import load_codes, save_codes
from .precision_recall import (DEFAULT_TOPN, RadiusPRRequest, TopNRequest,
                               pr_curve_by_radius, pr_curve_by_topn,
                               precision_at_n, precision_recall_within_radius)
from .ranking import TIE_POLICIES, hamming_ranking
from .relevance import label_matrix, relevance_matrix
from .stats import ZERO_HIT_POLICIES, BlockStats, Request

__all__ = [
    'binarize', 'pack_codes', 'unpack_codes', 'hamming_distance',
    'hamming_ranking', 'label_matrix', 'relevance_matrix',
    'mean_average_precision', 'map_within_radius',
    'precision_recall_within_radius', 'precision_at_n', 'pr_curve_by_radius',
    'pr_curve_by_topn', 'hamming_retrieval_metrics', 'build_requests',
    'run_pass', 'save_codes', 'load_codes', 'METRIC_FAMILIES', 'TIE_POLICIES',
    'ZERO_HIT_POLICIES', 'DEFAULT_TOPN', 'BlockStats', 'Request',
    'MeanAPRequest', 'RadiusMAPRequest', 'RadiusPRRequest', 'TopNRequest'
]
