/*
 * Compiled kernels of the numpy backend (hashplugins.evaluation.functional).
 *
 * Loops that numpy cannot express without extra passes over a
 * (queries x database) block:
 *
 *   hamming_hist: XOR + popcount distances of a block of queries to the
 *       whole database, written as uint8, with the per-row histogram of
 *       all items (and of the relevant items: class members for
 *       single-label data, a 0/1 mask for multi-label data) counted while
 *       the row is in registers or in cache.
 *   relevant_ranks: the 0-based ranks, in the stable (distance, database
 *       position) order, of the relevant items inside each row's ranked
 *       prefix. A counting sort in one pass: an item at distance d gets
 *       rank start[d] + (items at d seen so far), so no sort is needed.
 *   ap_sums: the average-precision sums of those ranks in one pass (the
 *       numpy form takes five passes over float64 temporaries).
 *
 * Both are exact integer code; the numpy fallback in numpy_backend.py
 * computes the same integers (tests compare them). Arrays arrive through
 * the buffer protocol (C-contiguous, dtypes checked by the Python caller,
 * sizes checked here), so the module needs no numpy headers.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define MAX_BUCKETS 256 /* uint8 distances: codes of at most 255 bits */
#define LANES 4         /* sub-histograms: break store-to-load chains */

static int check_size(Py_buffer *buf, Py_ssize_t items, Py_ssize_t itemsize,
                      const char *name) {
    if (buf->len != items * itemsize) {
        PyErr_Format(PyExc_ValueError,
                     "%s: buffer holds %zd bytes, expected %zd", name,
                     buf->len, items * itemsize);
        return -1;
    }
    return 0;
}

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define HAVE_POPCNT_DISPATCH 1
#define POPCNT_TARGET __attribute__((target("popcnt")))
#else
#define POPCNT_TARGET
#endif

/* The loop body, compiled twice on x86 (with and without the POPCNT
 * instruction), once elsewhere. */
#define HAMMING_HIST_BODY                                                     \
    for (Py_ssize_t i = 0; i < nq; ++i) {                                     \
        int64_t lane[LANES][MAX_BUCKETS];                                     \
        int64_t lane_rel[MAX_BUCKETS];                                        \
        memset(lane, 0, sizeof(lane));                                         \
        memset(lane_rel, 0, sizeof(int64_t) * nb);                            \
        uint8_t *row = dist + i * n;                                          \
        const uint64_t *qi = q + i;                                           \
        Py_ssize_t j = 0;                                                     \
        if (nw == 1) {                                                        \
            const uint64_t qw = qi[0];                                        \
            for (; j + LANES <= n; j += LANES) {                              \
                for (int l = 0; l < LANES; ++l) {                             \
                    uint8_t d = (uint8_t)__builtin_popcountll(db[j + l] ^ qw);\
                    row[j + l] = d;                                           \
                    lane[l][d] += 1;                                          \
                }                                                             \
            }                                                                 \
        }                                                                     \
        for (; j < n; ++j) {                                                  \
            int d = 0;                                                        \
            for (Py_ssize_t w = 0; w < nw; ++w)                               \
                d += __builtin_popcountll(db[w * n + j] ^ qi[w * nq]);        \
            row[j] = (uint8_t)d;                                              \
            lane[j & (LANES - 1)][d] += 1;                                    \
        }                                                                     \
        int64_t *h = hist + i * nb;                                           \
        for (Py_ssize_t d = 0; d < nb; ++d) {                                 \
            int64_t s = 0;                                                    \
            for (int l = 0; l < LANES; ++l) s += lane[l][d];                  \
            h[d] = s;                                                         \
        }                                                                     \
        if (members) {                                                        \
            const int64_t *m = members + class_ptr[qkeys[i]];                 \
            const int64_t count = class_ptr[qkeys[i] + 1] - class_ptr[qkeys[i]];\
            for (int64_t jj = 0; jj < count; ++jj) lane_rel[row[m[jj]]] += 1; \
            memcpy(hist_rel + i * nb, lane_rel, sizeof(int64_t) * nb);        \
        } else if (mask) {                                                    \
            /* The row is still in cache: a second, branchless pass adds   \
             * each item's relevance flag (0/1) to its distance's count. */ \
            const uint8_t *mrow = mask + i * n;                               \
            memset(lane, 0, sizeof(lane));                                    \
            Py_ssize_t k = 0;                                                 \
            for (; k + LANES <= n; k += LANES)                                \
                for (int l = 0; l < LANES; ++l)                               \
                    lane[l][row[k + l]] += mrow[k + l];                       \
            for (; k < n; ++k) lane[0][row[k]] += mrow[k];                    \
            for (Py_ssize_t d = 0; d < nb; ++d) {                             \
                int64_t s = 0;                                                \
                for (int l = 0; l < LANES; ++l) s += lane[l][d];              \
                hist_rel[i * nb + d] = s;                                     \
            }                                                                 \
        }                                                                     \
    }


/* One body, compiled twice: for the baseline target and with popcnt. */
#define HAMMING_HIST_PARAMS                                                   \
    (const uint64_t *q, const uint64_t *db, uint8_t *dist, int64_t *hist,    \
     const int64_t *class_ptr, const int64_t *members, const int32_t *qkeys, \
     const uint8_t *mask, int64_t *hist_rel, Py_ssize_t nw, Py_ssize_t nq,   \
     Py_ssize_t n, Py_ssize_t nb)

static void hamming_hist_generic HAMMING_HIST_PARAMS { HAMMING_HIST_BODY }

#ifdef HAVE_POPCNT_DISPATCH
POPCNT_TARGET
static void hamming_hist_popcnt HAMMING_HIST_PARAMS { HAMMING_HIST_BODY }
#endif

static const char hamming_hist_doc[] =
    "hamming_hist(q_words, db_words, dist, hist, nw, nq, n, nb\n"
    "             [, class_ptr, members, qkeys, hist_rel, mask])\n\n"
    "Distances of nq queries to n items (uint64 words, word-major:\n"
    "q_words (nw, nq), db_words (nw, n)) into dist (nq, n) uint8, and the\n"
    "per-row counts of each distance 0..nb-1 into hist (nq, nb) int64.\n"
    "Single-label data may also pass its classes' members (CSR: members\n"
    "(n,) int64 positions grouped by class, class_ptr (C + 1,) int64) and\n"
    "the queries' classes qkeys (nq,) int32: then the counts of relevant\n"
    "(same-class) items go to hist_rel (nq, nb) int64. Multi-label data\n"
    "passes None for those three and its relevance as mask (nq, n) uint8\n"
    "0/1 instead.";

static PyObject *py_hamming_hist(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer q, db, dist, hist;
    Py_buffer class_ptr = {0}, members = {0}, qkeys = {0}, hist_rel = {0};
    Py_buffer mask = {0};
    Py_ssize_t nw, nq, n, nb;
    PyObject *result = NULL;
    if (!PyArg_ParseTuple(args, "y*y*w*w*nnnn|z*z*z*w*z*", &q, &db, &dist,
                          &hist, &nw, &nq, &n, &nb, &class_ptr, &members,
                          &qkeys, &hist_rel, &mask))
        return NULL;
    const int64_t *ptr = NULL, *mem = NULL;
    const int32_t *qk = NULL;
    const uint8_t *mp = NULL;
    if (nb < 1 || nb > MAX_BUCKETS || nw < 1 || nq < 0 || n < 0) {
        PyErr_SetString(PyExc_ValueError, "hamming_hist: bad sizes");
        goto done;
    }
    if (check_size(&q, nw * nq, 8, "q_words") ||
        check_size(&db, nw * n, 8, "db_words") ||
        check_size(&dist, nq * n, 1, "dist") ||
        check_size(&hist, nq * nb, 8, "hist"))
        goto done;
    if (class_ptr.buf != NULL) {
        if (hist_rel.buf == NULL) {
            PyErr_SetString(PyExc_ValueError,
                            "hamming_hist: class_ptr needs members, qkeys "
                            "and hist_rel");
            goto done;
        }
        Py_ssize_t num_classes = class_ptr.len / 8 - 1;
        if (num_classes < 1 || class_ptr.len % 8 ||
            check_size(&members, n, 8, "members") ||
            check_size(&qkeys, nq, 4, "qkeys") ||
            check_size(&hist_rel, nq * nb, 8, "hist_rel"))
            goto bad;
        ptr = class_ptr.buf;
        mem = members.buf;
        qk = qkeys.buf;
        if (ptr[0] != 0 || ptr[num_classes] != n) goto bad;
        for (Py_ssize_t c = 0; c < num_classes; ++c)
            if (ptr[c + 1] < ptr[c]) goto bad;
        for (Py_ssize_t j = 0; j < n; ++j)
            if (mem[j] < 0 || mem[j] >= n) goto bad;
        for (Py_ssize_t i = 0; i < nq; ++i)
            if (qk[i] < 0 || qk[i] >= num_classes) goto bad;
    } else if (mask.buf != NULL) {  /* hist_rel precedes it: present */
        if (check_size(&mask, nq * n, 1, "mask") ||
            check_size(&hist_rel, nq * nb, 8, "hist_rel"))
            goto done;
        mp = mask.buf;
    }
    Py_BEGIN_ALLOW_THREADS
#ifdef HAVE_POPCNT_DISPATCH
    if (__builtin_cpu_supports("popcnt"))
        hamming_hist_popcnt(q.buf, db.buf, dist.buf, hist.buf, ptr, mem, qk,
                            mp, hist_rel.buf, nw, nq, n, nb);
    else
#endif
        hamming_hist_generic(q.buf, db.buf, dist.buf, hist.buf, ptr, mem, qk,
                             mp, hist_rel.buf, nw, nq, n, nb);
    Py_END_ALLOW_THREADS
    result = Py_None;
    Py_INCREF(result);
    goto done;
bad:
    if (!PyErr_Occurred())
        PyErr_SetString(PyExc_ValueError,
                        "hamming_hist: inconsistent class members");
done:
    PyBuffer_Release(&q);
    PyBuffer_Release(&db);
    PyBuffer_Release(&dist);
    PyBuffer_Release(&hist);
    if (class_ptr.buf) PyBuffer_Release(&class_ptr);
    if (members.buf) PyBuffer_Release(&members);
    if (qkeys.buf) PyBuffer_Release(&qkeys);
    if (hist_rel.buf) PyBuffer_Release(&hist_rel);
    if (mask.buf) PyBuffer_Release(&mask);
    return result;
}

/* One row of relevant_ranks: every item up to the last bucket t gets its
 * rank start[d]++; the relevant ones are recorded without a branch (a
 * store at every item, the cursor advanced by the relevance flag: a
 * branch mispredicts on ~10 % relevance) and placed afterwards. Items
 * beyond t are skipped 8 at a time: a word of 8 distances holds a byte
 * <= t iff it "has a byte less than t + 1" (an exact bit trick for
 * t + 1 <= 128). */
#define RANK_ONE(REL)                                                         \
    {                                                                         \
        const uint8_t d = row[j];                                             \
        if (d <= t) {                                                         \
            rec_d[r] = d;                                                     \
            rec_p[r] = start[d]++;                                            \
            r += (REL);                                                       \
        }                                                                     \
    }
#define RANK_LOOP(REL)                                                        \
    {                                                                         \
        Py_ssize_t j = 0;                                                     \
        if (t + 1 <= 128 && t + 1 < nb) {                                     \
            const uint64_t ones = 0x0101010101010101ULL;                      \
            const uint64_t lim = ones * (uint64_t)(t + 1);                    \
            const uint64_t high = ones << 7;                                  \
            for (; j + 8 <= n; j += 8) {                                      \
                uint64_t x;                                                   \
                memcpy(&x, row + j, 8);                                       \
                if (!((x - lim) & ~x & high)) continue;                       \
                const Py_ssize_t base = j;                                    \
                for (; j < base + 8; ++j) RANK_ONE(REL)                       \
                j = base;                                                     \
            }                                                                 \
        }                                                                     \
        for (; j < n; ++j) RANK_ONE(REL)                                      \
    }

/* The rank kernels' shared checks: two equal int64 outputs, and
 * relevance as keys + qkeys (int32) or as a (nq, n) uint8 mask. */
static int check_rank_args(Py_buffer *out_rows, Py_buffer *out_pos,
                           Py_buffer *keys, Py_buffer *qkeys,
                           Py_buffer *mask, Py_ssize_t nq, Py_ssize_t n,
                           const char *fn) {
    if (out_rows->len != out_pos->len || out_pos->len % 8) {
        PyErr_Format(PyExc_ValueError,
                     "%s: out_rows and out_pos must be int64 of one size",
                     fn);
        return -1;
    }
    if (keys->buf != NULL ? (qkeys->buf == NULL ||
                             check_size(keys, n, 4, "keys") ||
                             check_size(qkeys, nq, 4, "qkeys"))
                          : (mask->buf == NULL ||
                             check_size(mask, nq * n, 1, "mask"))) {
        if (!PyErr_Occurred())
            PyErr_Format(PyExc_ValueError,
                         "%s: needs keys and qkeys, or mask", fn);
        return -1;
    }
    return 0;
}

static const char relevant_ranks_doc[] =
    "relevant_ranks(dist, hist, hist_rel, last, length, out_rows, out_pos,\n"
    "               nq, n, nb, keys=None, qkeys=None, mask=None) -> count\n\n"
    "For each row i of dist (nq, n) uint8: the 0-based ranks p < length[i]\n"
    "in the stable (distance, position) order of the relevant items at a\n"
    "distance <= last[i], ascending. hist/hist_rel (nq, nb) int64 are the\n"
    "row's counts of all/relevant items per distance; relevance is\n"
    "keys[j] == qkeys[i] (int32) or mask[i, j] != 0 (uint8 (nq, n)).\n"
    "Writes rows and ranks (int64) compactly to out_rows/out_pos (room\n"
    "for the sum over rows with length > 0 of hist_rel[i, :last[i] + 1])\n"
    "and returns the count.";

static PyObject *py_relevant_ranks(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer dist, hist, hist_rel, last, length, out_rows, out_pos;
    Py_buffer keys = {0}, qkeys = {0}, mask = {0};
    Py_ssize_t nq, n, nb;
    PyObject *result = NULL;
    uint8_t *rec_d = NULL;
    int64_t *rec_p = NULL;
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*w*w*nnn|z*z*z*", &dist, &hist,
                          &hist_rel, &last, &length, &out_rows, &out_pos, &nq,
                          &n, &nb, &keys, &qkeys, &mask))
        return NULL;
    if (nb < 1 || nb > MAX_BUCKETS || nq < 0 || n < 0) {
        PyErr_SetString(PyExc_ValueError, "relevant_ranks: bad sizes");
        goto done;
    }
    if (check_size(&dist, nq * n, 1, "dist") ||
        check_size(&hist, nq * nb, 8, "hist") ||
        check_size(&hist_rel, nq * nb, 8, "hist_rel") ||
        check_size(&last, nq, 8, "last") ||
        check_size(&length, nq, 8, "length") ||
        check_rank_args(&out_rows, &out_pos, &keys, &qkeys, &mask, nq, n,
                        "relevant_ranks"))
        goto bad;
    int by_keys = keys.buf != NULL;
    const int64_t *h = hist.buf, *hr = hist_rel.buf, *lastp = last.buf,
                  *lenp = length.buf;
    /* Room check before any write: each row needs its relevant items up
     * to its last bucket. */
    Py_ssize_t room = out_pos.len / 8, need = 0;
    for (Py_ssize_t i = 0; i < nq; ++i) {
        if (lastp[i] < 0 || lastp[i] >= nb) {
            PyErr_Format(PyExc_ValueError,
                         "relevant_ranks: last[%zd] = %lld outside 0..%zd", i,
                         (long long)lastp[i], nb - 1);
            goto done;
        }
        if (lenp[i] > 0)
            for (Py_ssize_t d = 0; d <= lastp[i]; ++d) need += hr[i * nb + d];
    }
    if (need > room) {
        PyErr_Format(PyExc_ValueError,
                     "relevant_ranks: output room %zd < %zd needed", room,
                     need);
        goto done;
    }
    const uint8_t *dp = dist.buf, *mp = mask.buf;
    const int32_t *kp = keys.buf, *qk = qkeys.buf;
    int64_t *rows = out_rows.buf, *pos = out_pos.buf;
    Py_ssize_t cursor = 0;
    int overflow = 0; /* more relevant items than hist_rel counted */
    /* Records of one row; n + 1 entries as the last store may be past
     * the last relevant item. */
    rec_d = PyMem_Malloc(n + 1);
    rec_p = PyMem_Malloc(sizeof(int64_t) * (n + 1));
    if (!rec_d || !rec_p) {
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < nq; ++i) {
        const Py_ssize_t t = (Py_ssize_t)lastp[i];
        const int64_t len = lenp[i];
        if (len <= 0) continue;
        int64_t start[MAX_BUCKETS], slot[MAX_BUCKETS], end[MAX_BUCKETS];
        int64_t acc = 0, racc = 0;
        for (Py_ssize_t d = 0; d <= t; ++d) {
            start[d] = acc;
            slot[d] = cursor + racc;
            acc += h[i * nb + d];
            racc += hr[i * nb + d];
            end[d] = cursor + racc;
        }
        const uint8_t *row = dp + i * n;
        Py_ssize_t r = 0;
        if (by_keys) {
            const int32_t k = qk[i];
            RANK_LOOP(kp[j] == k)
        } else {
            const uint8_t *mrow = mp + i * n;
            RANK_LOOP(mrow[j] != 0)
        }
        for (Py_ssize_t e = 0; e < r; ++e) {
            const uint8_t d = rec_d[e];
            const int64_t p = rec_p[e];
            if (p >= len) continue;
            if (slot[d] < end[d])
                pos[slot[d]++] = p;
            else
                overflow = 1;
        }
        /* Only the last bucket can be cut by length: the row's ranks are
         * contiguous from cursor up to slot[t]. */
        for (Py_ssize_t r = cursor; r < slot[t]; ++r) rows[r] = i;
        cursor = slot[t];
    }
    Py_END_ALLOW_THREADS
    if (overflow)
        PyErr_SetString(PyExc_ValueError,
                        "relevant_ranks: relevance disagrees with hist_rel");
    else
        result = PyLong_FromSsize_t(cursor);
    goto done;
bad:
    if (!PyErr_Occurred())
        PyErr_SetString(PyExc_ValueError,
                        "relevant_ranks: inconsistent buffer sizes");
done:
    PyMem_Free(rec_d);
    PyMem_Free(rec_p);
    PyBuffer_Release(&dist);
    PyBuffer_Release(&hist);
    PyBuffer_Release(&hist_rel);
    PyBuffer_Release(&last);
    PyBuffer_Release(&length);
    PyBuffer_Release(&out_rows);
    PyBuffer_Release(&out_pos);
    if (keys.buf) PyBuffer_Release(&keys);
    if (qkeys.buf) PyBuffer_Release(&qkeys);
    if (mask.buf) PyBuffer_Release(&mask);
    return result;
}


/* hamming_ranks: distances, histograms and the ranks of all relevant
 * items of each row in one pass. An item's rank is start[d] plus the
 * items before it at distance d, a running count per bucket; one count
 * table would chain every item of a bucket through a store and a reload,
 * so the row is cut into SEGS contiguous segments walked side by side,
 * each with its own table, and a segment's earlier neighbours' totals are
 * added afterwards. Relevant items are recorded without a branch as one
 * word (count << 10 | segment << 8 | distance). */
#define SEGS 4

#define FUSED_ONE(T, L, DIST, REL)                                            \
    {                                                                         \
        const Py_ssize_t t_ = (T);                                            \
        const uint8_t d_ = (uint8_t)(DIST);                                   \
        row[t_] = d_;                                                         \
        rec[r] = ((uint64_t)seg[L][d_]++ << 10) | ((uint64_t)(L) << 8) | d_; \
        r += (REL);                                                           \
    }

#define FUSED_ROW(DIST, REL)                                                  \
    {                                                                         \
        const Py_ssize_t s = n / SEGS;                                        \
        for (Py_ssize_t k = 0; k < s; ++k) {                                  \
            FUSED_ONE(k, 0, DIST(k), REL(k))                                  \
            FUSED_ONE(s + k, 1, DIST(s + k), REL(s + k))                      \
            FUSED_ONE(2 * s + k, 2, DIST(2 * s + k), REL(2 * s + k))          \
            FUSED_ONE(3 * s + k, 3, DIST(3 * s + k), REL(3 * s + k))          \
        }                                                                     \
        for (Py_ssize_t t = SEGS * s; t < n; ++t)                             \
            FUSED_ONE(t, SEGS - 1, DIST(t), REL(t))                           \
    }

#define DIST_ONE_WORD(T) __builtin_popcountll(db[T] ^ qw)
#define DIST_WORDS(T) words_distance(db, qi, nw, n, nq, T)
#define REL_KEY(T) (kp[T] == key)
#define REL_MASK(T) (mrow[T] != 0)

static inline int words_distance(const uint64_t *db, const uint64_t *qi,
                                 Py_ssize_t nw, Py_ssize_t n, Py_ssize_t nq,
                                 Py_ssize_t t) {
    int d = 0;
    for (Py_ssize_t w = 0; w < nw; ++w)
        d += __builtin_popcountll(db[w * n + t] ^ qi[w * nq]);
    return d;
}

#define HAMMING_RANKS_PARAMS                                                  \
    (const uint64_t *q, const uint64_t *db, uint8_t *dist, int64_t *hist,    \
     int64_t *hist_rel, int64_t *rows, int64_t *pos, Py_ssize_t room,        \
     const int32_t *kp, const int32_t *qk, const uint8_t *mp, uint64_t *rec, \
     Py_ssize_t nw, Py_ssize_t nq, Py_ssize_t n, Py_ssize_t nb)

/* Returns the number of ranks written, or -1 when they would not fit. */
#define HAMMING_RANKS_BODY                                                    \
    Py_ssize_t cursor = 0;                                                    \
    for (Py_ssize_t i = 0; i < nq; ++i) {                                     \
        int64_t seg[SEGS][MAX_BUCKETS], rel[SEGS][MAX_BUCKETS];               \
        memset(seg, 0, sizeof(seg));                                          \
        memset(rel, 0, sizeof(rel));                                          \
        uint8_t *row = dist + i * n;                                          \
        const uint64_t *qi = q + i;                                           \
        Py_ssize_t r = 0;                                                     \
        if (kp) {                                                             \
            const int32_t key = qk[i];                                        \
            if (nw == 1) {                                                    \
                const uint64_t qw = qi[0];                                    \
                FUSED_ROW(DIST_ONE_WORD, REL_KEY)                             \
            } else                                                            \
                FUSED_ROW(DIST_WORDS, REL_KEY)                                \
        } else {                                                              \
            const uint8_t *mrow = mp + i * n;                                 \
            if (nw == 1) {                                                    \
                const uint64_t qw = qi[0];                                    \
                FUSED_ROW(DIST_ONE_WORD, REL_MASK)                            \
            } else                                                            \
                FUSED_ROW(DIST_WORDS, REL_MASK)                               \
        }                                                                     \
        if (cursor + r > room) return -1;                                     \
        for (Py_ssize_t e = 0; e < r; ++e)                                    \
            rel[(rec[e] >> 8) & 3][rec[e] & 255] += 1;                        \
        /* seg becomes each segment's first rank per bucket, rel the first  \
         * output slot per (bucket, segment): bucket-major, then segment,   \
         * i.e. ascending rank. */                                            \
        int64_t start = 0, slot = cursor;                                     \
        for (Py_ssize_t d = 0; d < nb; ++d) {                                 \
            int64_t all = 0, relevant = 0;                                    \
            for (int l = 0; l < SEGS; ++l) {                                  \
                const int64_t c = seg[l][d], cr = rel[l][d];                  \
                seg[l][d] = start + all;                                      \
                rel[l][d] = slot + relevant;                                  \
                all += c;                                                     \
                relevant += cr;                                               \
            }                                                                 \
            hist[i * nb + d] = all;                                           \
            hist_rel[i * nb + d] = relevant;                                  \
            start += all;                                                     \
            slot += relevant;                                                 \
        }                                                                     \
        for (Py_ssize_t e = 0; e < r; ++e) {                                  \
            const uint64_t w = rec[e];                                        \
            const int l = (int)((w >> 8) & 3), d = (int)(w & 255);            \
            pos[rel[l][d]++] = seg[l][d] + (int64_t)(w >> 10);                \
        }                                                                     \
        for (Py_ssize_t e = 0; e < r; ++e) rows[cursor + e] = i;              \
        cursor += r;                                                          \
    }                                                                         \
    return cursor;

static Py_ssize_t hamming_ranks_generic HAMMING_RANKS_PARAMS {
    HAMMING_RANKS_BODY
}

#ifdef HAVE_POPCNT_DISPATCH
POPCNT_TARGET
static Py_ssize_t hamming_ranks_popcnt HAMMING_RANKS_PARAMS {
    HAMMING_RANKS_BODY
}
#endif

static const char hamming_ranks_doc[] =
    "hamming_ranks(q_words, db_words, dist, hist, hist_rel, out_rows,\n"
    "              out_pos, nw, nq, n, nb, keys=None, qkeys=None,\n"
    "              mask=None) -> count\n\n"
    "hamming_hist and relevant_ranks over whole rows in one pass: the\n"
    "distances (dist (nq, n) uint8), the per-row counts of all and of\n"
    "relevant items per distance (hist, hist_rel (nq, nb) int64), and the\n"
    "rows and 0-based ranks, in the stable (distance, position) order, of\n"
    "every relevant item (keys[j] == qkeys[i], int32, or mask[i, j] != 0,\n"
    "uint8 (nq, n)), ascending per row, written compactly to out_rows /\n"
    "out_pos (int64). Returns the count; ValueError if out_pos is full.";

static PyObject *py_hamming_ranks(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer q, db, dist, hist, hist_rel, out_rows, out_pos;
    Py_buffer keys = {0}, qkeys = {0}, mask = {0};
    Py_ssize_t nw, nq, n, nb, count = 0;
    PyObject *result = NULL;
    uint64_t *rec = NULL;
    if (!PyArg_ParseTuple(args, "y*y*w*w*w*w*w*nnnn|z*z*z*", &q, &db, &dist,
                          &hist, &hist_rel, &out_rows, &out_pos, &nw, &nq, &n,
                          &nb, &keys, &qkeys, &mask))
        return NULL;
    if (nb < 1 || nb > MAX_BUCKETS || nw < 1 || nq < 0 || n < 0 ||
        n >= ((Py_ssize_t)1 << 40)) {
        PyErr_SetString(PyExc_ValueError, "hamming_ranks: bad sizes");
        goto done;
    }
    if (check_size(&q, nw * nq, 8, "q_words") ||
        check_size(&db, nw * n, 8, "db_words") ||
        check_size(&dist, nq * n, 1, "dist") ||
        check_size(&hist, nq * nb, 8, "hist") ||
        check_size(&hist_rel, nq * nb, 8, "hist_rel") ||
        check_rank_args(&out_rows, &out_pos, &keys, &qkeys, &mask, nq, n,
                        "hamming_ranks"))
        goto done;
    int by_keys = keys.buf != NULL;
    rec = PyMem_Malloc(sizeof(uint64_t) * (n + 1));
    if (!rec) {
        PyErr_NoMemory();
        goto done;
    }
    const int32_t *kp = by_keys ? keys.buf : NULL;
    const int32_t *qk = by_keys ? qkeys.buf : NULL;
    const uint8_t *mp = by_keys ? NULL : mask.buf;
    Py_BEGIN_ALLOW_THREADS
#ifdef HAVE_POPCNT_DISPATCH
    if (__builtin_cpu_supports("popcnt"))
        count = hamming_ranks_popcnt(q.buf, db.buf, dist.buf, hist.buf,
                                     hist_rel.buf, out_rows.buf, out_pos.buf,
                                     out_pos.len / 8, kp, qk, mp, rec, nw, nq,
                                     n, nb);
    else
#endif
        count = hamming_ranks_generic(q.buf, db.buf, dist.buf, hist.buf,
                                      hist_rel.buf, out_rows.buf, out_pos.buf,
                                      out_pos.len / 8, kp, qk, mp, rec, nw,
                                      nq, n, nb);
    Py_END_ALLOW_THREADS
    if (count < 0)
        PyErr_SetString(PyExc_ValueError,
                        "hamming_ranks: more relevant items than out_pos "
                        "holds");
    else
        result = PyLong_FromSsize_t(count);
done:
    PyMem_Free(rec);
    PyBuffer_Release(&q);
    PyBuffer_Release(&db);
    PyBuffer_Release(&dist);
    PyBuffer_Release(&hist);
    PyBuffer_Release(&hist_rel);
    PyBuffer_Release(&out_rows);
    PyBuffer_Release(&out_pos);
    if (keys.buf) PyBuffer_Release(&keys);
    if (qkeys.buf) PyBuffer_Release(&qkeys);
    if (mask.buf) PyBuffer_Release(&mask);
    return result;
}

static const char ap_sums_doc[] =
    "ap_sums(rel_rows, rel_pos, cutoff, total, hits, m, nq)\n\n"
    "Average-precision sums from the ranks of relevant items: for the m\n"
    "items (rel_rows, rel_pos int64, sorted by row then rank) with rank <\n"
    "cutoff[row] (int64 (nq,)), hits[row] (int64) counts them and\n"
    "total[row] (float64) adds (hits so far) / (rank + 1), in rank order.";

static PyObject *py_ap_sums(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer rows, pos, cutoff, total, hits;
    Py_ssize_t m, nq;
    PyObject *result = NULL;
    if (!PyArg_ParseTuple(args, "y*y*y*w*w*nn", &rows, &pos, &cutoff, &total,
                          &hits, &m, &nq))
        return NULL;
    if (m < 0 || nq < 0 || check_size(&rows, m, 8, "rel_rows") ||
        check_size(&pos, m, 8, "rel_pos") ||
        check_size(&cutoff, nq, 8, "cutoff") ||
        check_size(&total, nq, 8, "total") || check_size(&hits, nq, 8, "hits"))
        goto done;
    const int64_t *rp = rows.buf, *pp = pos.buf, *cp = cutoff.buf;
    double *tp = total.buf;
    int64_t *hp = hits.buf;
    for (Py_ssize_t k = 0; k < m; ++k)
        if (rp[k] < 0 || rp[k] >= nq || (k && rp[k] < rp[k - 1])) {
            PyErr_SetString(PyExc_ValueError,
                            "ap_sums: rel_rows must be sorted rows 0..nq-1");
            goto done;
        }
    Py_BEGIN_ALLOW_THREADS
    memset(tp, 0, sizeof(double) * nq);
    memset(hp, 0, sizeof(int64_t) * nq);
    for (Py_ssize_t k = 0; k < m; ++k) {
        const int64_t r = rp[k];
        if (pp[k] >= cp[r]) continue;
        hp[r] += 1;
        tp[r] += (double)hp[r] / ((double)pp[k] + 1.0);
    }
    Py_END_ALLOW_THREADS
    result = Py_None;
    Py_INCREF(result);
done:
    PyBuffer_Release(&rows);
    PyBuffer_Release(&pos);
    PyBuffer_Release(&cutoff);
    PyBuffer_Release(&total);
    PyBuffer_Release(&hits);
    return result;
}

static PyMethodDef methods[] = {
    {"hamming_hist", py_hamming_hist, METH_VARARGS, hamming_hist_doc},
    {"relevant_ranks", py_relevant_ranks, METH_VARARGS, relevant_ranks_doc},
    {"hamming_ranks", py_hamming_ranks, METH_VARARGS, hamming_ranks_doc},
    {"ap_sums", py_ap_sums, METH_VARARGS, ap_sums_doc},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_kernels",
    "Compiled kernels of the numpy evaluation backend.", -1, methods,
    NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__kernels(void) { return PyModule_Create(&module); }
