"""Straightforward reference implementations of the published evaluation
conventions, written for the golden tests (and timed by
``benchmarks/eval_speed.py``). They favour being obviously right over
speed: one query at a time, float ±1 codes and label dot products as in
the published code, and a *stable* argsort so that ties follow database
position (the published code uses unstable sorts; see
``docs/evaluation.md``).
"""
import itertools
from collections import Counter

import numpy as np


def hamming_to_all(q_code, db_codes):
    """DeepHash-pytorch ``CalcHammingDist``: 0.5 * (B - q . D^T)."""
    return 0.5 * (db_codes.shape[1] - np.dot(q_code, db_codes.T))


def map_deephash_pytorch(q_codes,
                         db_codes,
                         q_labels,
                         db_labels,
                         topk=None,
                         zero_hit='zero'):
    """DeepHash-pytorch ``utils/tools.py::CalcTopMap`` (stable argsort).

    A query without a relevant item in the top K adds 0 and still counts
    (``zero_hit='zero'``); ``'exclude'`` drops it instead (FIRe's
    ``old_eval``).
    """
    topk = db_codes.shape[0] if topk is None else topk
    total, counted = 0.0, 0
    for i in range(q_labels.shape[0]):
        gnd = (np.dot(q_labels[i, :], db_labels.T) > 0).astype(np.float32)
        hamm = hamming_to_all(q_codes[i, :], db_codes)
        ind = np.argsort(hamm, kind='stable')
        tgnd = gnd[ind][0:topk]
        tsum = int(np.sum(tgnd))
        if tsum == 0:
            counted += zero_hit == 'zero'
            continue
        count = np.linspace(1, tsum, tsum)
        tindex = np.asarray(np.where(tgnd == 1)) + 1.0
        total += np.mean(count / tindex)
        counted += 1
    return total / counted if counted else 0.0


def map_thuml(db_codes, q_codes, db_labels, q_labels, R):
    """thuml HashNet ``pytorch/src/test.py::mean_average_precision``: rank
    by inner product (stable), the "-1 trick" for relevance, queries
    without a relevant item in the top R dropped from the mean."""
    query_num = q_codes.shape[0]
    sim = np.dot(db_codes, q_codes.T)
    ids = np.argsort(-sim, axis=0, kind='stable')
    APx = []
    for i in range(query_num):
        label = q_labels[i, :].copy()  # HashNet mutates a view here
        label[label == 0] = -1
        idx = ids[:, i]
        imatch = np.sum(db_labels[idx[0:R], :] == label, axis=1) > 0
        relevant_num = np.sum(imatch)
        Lx = np.cumsum(imatch)
        Px = Lx.astype(float) / np.arange(1, len(imatch) + 1, 1)
        if relevant_num != 0:
            APx.append(np.sum(Px * imatch) / relevant_num)
    return np.mean(np.array(APx)) if APx else 0.0


def map_tah_radius(db_codes, q_codes, db_labels, q_labels, radius=2):
    """TAH ``models/predict/predict.py::mean_average_precision_hamming2``
    generalized to radius r: items with ``<h_q, h_d> >= B - 2r`` (distance
    <= r), ranked by inner product (stable); an empty ball or one without
    a relevant item scores 0; mean over all queries."""
    bits = db_codes.shape[1]
    sim = np.dot(db_codes, q_codes.T)
    ids = np.argsort(-sim, axis=0, kind='stable')
    APx = []
    for i in range(q_codes.shape[0]):
        label = q_labels[i, :].copy()
        label[label == 0] = -1
        idx = ids[:, i]
        idx = idx[sim[idx, i] >= bits - 2 * radius]
        imatch = np.sum(db_labels[idx, :] == label, axis=1) > 0
        relevant_num = np.sum(imatch)
        if relevant_num == 0:
            APx.append(0.0)
            continue
        Px = np.cumsum(imatch).astype(float) / np.arange(1, len(idx) + 1)
        APx.append(np.sum(Px * imatch) / relevant_num)
    return np.mean(np.array(APx))


def precision_recall_radius(db_codes, q_codes, db_labels, q_labels, radius=2):
    """TAH ``hamming_radius2`` precision (empty ball: 0) and the recall of
    the same ball (relevant in ball / relevant in database, 0 if none)."""
    bits = db_codes.shape[1]
    precisions, recalls = [], []
    for i in range(q_codes.shape[0]):
        sim = np.dot(db_codes, q_codes[i])
        relevant = np.dot(db_labels, q_labels[i]) > 0
        ball = sim >= bits - 2 * radius
        found = np.sum(relevant & ball)
        precisions.append(found / ball.sum() if ball.sum() else 0.0)
        recalls.append(found / relevant.sum() if relevant.sum() else 0.0)
    return float(np.mean(precisions)), float(np.mean(recalls))


def ranked_relevance(q_code, db_codes, q_label, db_labels):
    """Relevance of the database in stable Hamming order, one query."""
    hamm = hamming_to_all(q_code, db_codes)
    ind = np.argsort(hamm, kind='stable')
    return (np.dot(db_labels, q_label) > 0)[ind], hamm[ind]


def precision_recall_at(q_codes, db_codes, q_labels, db_labels, ns):
    """Mean precision@N and recall@N (N clipped to the database size)."""
    prec = np.zeros(len(ns))
    rec = np.zeros(len(ns))
    for i in range(q_codes.shape[0]):
        gnd, _ = ranked_relevance(q_codes[i], db_codes, q_labels[i], db_labels)
        for j, n in enumerate(ns):
            n = min(n, len(gnd))
            prec[j] += gnd[:n].sum() / n
            rec[j] += gnd[:n].sum() / gnd.sum() if gnd.sum() else 0.0
    return prec / len(q_codes), rec / len(q_codes)


def pr_curve_radius(q_codes, db_codes, q_labels, db_labels):
    """Mean precision (empty ball: 0) and recall within r = 0..B."""
    bits = db_codes.shape[1]
    prec = np.zeros(bits + 1)
    rec = np.zeros(bits + 1)
    for i in range(q_codes.shape[0]):
        hamm = hamming_to_all(q_codes[i], db_codes)
        relevant = np.dot(db_labels, q_labels[i]) > 0
        for r in range(bits + 1):
            ball = hamm <= r
            found = np.sum(relevant & ball)
            prec[r] += found / ball.sum() if ball.sum() else 0.0
            rec[r] += found / relevant.sum() if relevant.sum() else 0.0
    return prec / len(q_codes), rec / len(q_codes)


def all_in_one_loop(q_codes, db_codes, q_labels, db_labels, topk, radius, ns):
    """mAP@topk + P@H<=radius + PR by radius (0..B) + P/R@ns in one
    per-query loop (one distance vector and one stable argsort per query):
    what ``benchmarks/eval_speed.py`` times against the engine."""
    bits = db_codes.shape[1]
    num_q = q_codes.shape[0]
    ap = np.zeros(num_q)
    p_ball = np.zeros(num_q)
    pr_p = np.zeros(bits + 1)
    pr_r = np.zeros(bits + 1)
    pn = np.zeros(len(ns))
    rn = np.zeros(len(ns))
    radii = np.arange(bits + 1)
    for i in range(num_q):
        gnd = np.dot(q_labels[i, :], db_labels.T) > 0
        hamm = hamming_to_all(q_codes[i, :], db_codes)
        ind = np.argsort(hamm, kind='stable')
        gnd, hamm = gnd[ind], hamm[ind]
        tgnd = gnd[:topk]
        tsum = int(tgnd.sum())
        if tsum:
            ap[i] = np.mean(
                np.linspace(1, tsum, tsum) / (np.flatnonzero(tgnd) + 1.0))
        hits = np.cumsum(gnd)
        total = hits[-1]
        # Sorted distances: the ball of radius r is a prefix.
        size = np.searchsorted(hamm, radii, side='right')
        found = np.where(size > 0, hits[np.maximum(size - 1, 0)], 0)
        prec = np.where(size > 0, found / np.maximum(size, 1), 0.0)
        pr_p += prec
        pr_r += found / total if total else 0.0
        p_ball[i] = prec[min(radius, bits)]
        for j, n in enumerate(ns):
            n = min(n, len(gnd))
            pn[j] += hits[n - 1] / n
            rn[j] += hits[n - 1] / total if total else 0.0
    return {
        f'mAP@{topk}': ap.mean(),
        f'P@H<={radius}': p_ball.mean(),
        'pr_radius_precision': pr_p / num_q,
        'pr_radius_recall': pr_r / num_q,
        'topn_precision': pn / num_q,
        'topn_recall': rn / num_q,
    }


# ---------------------------------------------------------------------------
# Brute force over tie orders (tiny inputs only).


def tie_orders(hamm):
    """Every ranking of the database consistent with the distances: all
    permutations of the items inside each distance bucket."""
    buckets = [np.flatnonzero(hamm == d) for d in np.unique(hamm)]
    for perms in itertools.product(
            *[itertools.permutations(b) for b in buckets]):
        yield np.concatenate([np.array(p, dtype=int) for p in perms])


def ap_of_list(gnd):
    """Hashing AP of a ranked 0/1 list (0 without a relevant item)."""
    tsum = int(gnd.sum())
    if tsum == 0:
        return 0.0
    return float(np.mean(np.arange(1, tsum + 1) / (np.flatnonzero(gnd) + 1.0)))


def brute_force_outcomes(q_codes, db_codes, q_labels, db_labels, value_fn):
    """Per query, a Counter of ``value_fn(ranked relevance)`` over all tie
    orders (each order equally likely)."""
    out = []
    for i in range(q_codes.shape[0]):
        hamm = hamming_to_all(q_codes[i], db_codes)
        relevant = np.dot(db_labels, q_labels[i]) > 0
        out.append(
            Counter(
                value_fn(relevant[order], hamm[order])
                for order in tie_orders(hamm)))
    return out


def expected_mean(outcomes):
    """E[mean over queries of the value] (value = outcome or outcome[0])."""
    means = []
    for counter in outcomes:
        total = sum(counter.values())
        means.append(
            sum((v[0] if isinstance(v, tuple) else v) * c
                for v, c in counter.items()) / total)
    return float(np.mean(means))


def expected_exclude_mean(outcomes):
    """E[mean of AP over the queries with a hit] with independent tie
    orders per query, by enumerating the joint outcomes; 0 for a draw
    without any hit. Outcomes are ``(ap, has_hit)`` pairs."""
    result = 0.0
    totals = [sum(c.values()) for c in outcomes]
    for combo in itertools.product(*[list(c.items()) for c in outcomes]):
        weight = np.prod([count / t for (_, count), t in zip(combo, totals)])
        aps = [ap for (ap, hit), _ in combo if hit]
        result += weight * (np.mean(aps) if aps else 0.0)
    return float(result)
