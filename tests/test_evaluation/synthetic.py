"""Synthetic codes and labels for the evaluation tests: class prototype
codes with random bit flips (so rankings are meaningful and full of ties),
or uniform random codes."""
import numpy as np


def make_labels(rng, n, num_classes, multi_label):
    """``(n, C)`` float 0/1 labels: one-hot, or multi-hot with some rows
    holding several labels (and, for multi-label, a few holding none)."""
    labels = np.zeros((n, num_classes))
    labels[np.arange(n), rng.integers(0, num_classes, n)] = 1
    if multi_label:
        labels[rng.random((n, num_classes)) < 0.25] = 1
        labels[rng.random(n) < 0.05] = 0  # items without any label
    return labels


def make_codes(rng, labels, bits, structured=True, flip=0.25, prototypes=None):
    """``(n, bits)`` float ±1 codes: the prototype of the first label with
    each bit flipped with probability ``flip``, or uniform when not
    structured."""
    n = len(labels)
    if not structured:
        return rng.choice([-1.0, 1.0], size=(n, bits))
    if prototypes is None:
        prototypes = rng.choice([-1.0, 1.0], size=(labels.shape[1], bits))
    first = np.where(labels.any(axis=1), labels.argmax(axis=1), 0)
    flips = np.where(rng.random((n, bits)) < flip, -1.0, 1.0)
    return prototypes[first] * flips


def make_problem(seed,
                 bits,
                 num_query=20,
                 num_db=300,
                 num_classes=5,
                 multi_label=False,
                 structured=True,
                 flip=0.25):
    """Query/database codes and labels sharing class prototypes."""
    rng = np.random.default_rng(seed)
    q_labels = make_labels(rng, num_query, num_classes, multi_label)
    db_labels = make_labels(rng, num_db, num_classes, multi_label)
    prototypes = rng.choice([-1.0, 1.0], size=(num_classes, bits))
    q_codes = make_codes(rng, q_labels, bits, structured, flip, prototypes)
    db_codes = make_codes(rng, db_labels, bits, structured, flip, prototypes)
    return q_codes, db_codes, q_labels, db_labels


def metric_samples(q_codes, db_codes, q_labels, db_labels):
    """Per-sample dicts as mmengine's Evaluator hands them to
    ``HammingRetrievalMetric.process``: queries first (sample_idx 0..Q-1),
    then the database, each with its label indices."""
    import torch

    samples = []
    for split, codes, labels in (('query', q_codes, q_labels),
                                 ('database', db_codes, db_labels)):
        for code, label in zip(codes, labels):
            samples.append(
                dict(
                    hash_code=torch.tensor(code, dtype=torch.float32),
                    gt_label=torch.as_tensor(np.flatnonzero(label)),
                    split=split,
                    sample_idx=len(samples)))
    return samples


def assert_results_equal(got: dict, expected: dict) -> None:
    """Two ``hamming_retrieval_metrics`` results are equal bit for bit:
    the same names, equal scalars and equal curve arrays."""
    assert got.keys() == expected.keys()
    for name, value in expected.items():
        if isinstance(value, dict):
            for key in value:
                np.testing.assert_array_equal(got[name][key], value[key])
        else:
            assert got[name] == value, name
