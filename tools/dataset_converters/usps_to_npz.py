"""Convert the LIBSVM copy of USPS into the ``usps.npz`` USPSHashing reads.

The LIBSVM multiclass page (https://www.csie.ntu.edu.tw/~cjlin/libsvmtools/
datasets/multiclass.html#usps) serves ``usps.bz2`` (7,291 training digits)
and ``usps.t.bz2`` (2,007 test digits), the files torchvision's ``USPS``
downloads: one ``label index:value ...`` line per 16x16 digit, labels
1..10 for digits 0..9, values in [-1, 1]. This writes ``x_train``
(N, 16, 16) float32 in [0, 1] (``(v + 1) / 2``), ``y_train`` uint8 (the
digit), ``x_test``, ``y_test`` to OUT (atomically; an existing OUT is kept
unless ``--overwrite``). Plain (not compressed) files work too.

Example::

    python tools/dataset_converters/usps_to_npz.py usps.bz2 usps.t.bz2 \
        data/usps/usps.npz
"""
import argparse
import bz2
import os
import os.path as osp
import sys

import numpy as np

NUM_PIXELS = 256


def read_libsvm_digits(path: str):
    """(N, 16, 16) float32 images in [0, 1] and (N,) uint8 digits."""
    opener = bz2.open if path.endswith('.bz2') else open
    images, labels = [], []
    with opener(path, 'rt') as f:
        for lineno, line in enumerate(f, 1):
            tokens = line.split()
            if not tokens:
                continue
            where = f'{path}, line {lineno}'
            try:
                label = int(float(tokens[0]))
                row = np.zeros(NUM_PIXELS, np.float32)
                for tok in tokens[1:]:
                    idx, val = tok.split(':')
                    row[int(idx) - 1] = float(val)
            except (ValueError, IndexError) as e:
                raise ValueError(f'{where}: not a "label index:value ..." '
                                 f'line with indices 1..{NUM_PIXELS} ({e})')
            if not 1 <= label <= 10:
                raise ValueError(f'{where}: label {label} is not 1..10')
            if row.min() < -1.0001 or row.max() > 1.0001:
                raise ValueError(f'{where}: values must lie in [-1, 1]')
            images.append(row)
            labels.append(label - 1)
    if not images:
        raise ValueError(f'{path} holds no digits')
    x = np.clip((np.stack(images) + 1) / 2, 0, 1).reshape(-1, 16, 16)
    return x.astype(np.float32), np.asarray(labels, np.uint8)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='LIBSVM usps(.t).bz2 -> usps.npz for USPSHashing')
    parser.add_argument('train', help='usps.bz2 (training digits)')
    parser.add_argument('test', help='usps.t.bz2 (test digits)')
    parser.add_argument('out', help='output .npz path')
    parser.add_argument('--overwrite', action='store_true')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    out = osp.abspath(args.out)
    if osp.exists(out) and not args.overwrite:
        raise FileExistsError(f'{out} exists; pass --overwrite to replace it')
    arrays = {}
    for part, path in (('train', args.train), ('test', args.test)):
        if not osp.isfile(path):
            raise FileNotFoundError(f'{path} does not exist')
        arrays[f'x_{part}'], arrays[f'y_{part}'] = read_libsvm_digits(path)
    os.makedirs(osp.dirname(out), exist_ok=True)
    tmp = osp.join(osp.dirname(out), f'.tmp-{osp.basename(out)}-{os.getpid()}')
    try:
        with open(tmp, 'wb') as f:
            np.savez(f, **arrays)
        os.replace(tmp, out)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
    print(f'{out}: {len(arrays["y_train"])} training, '
          f'{len(arrays["y_test"])} test digits')
    return 0


if __name__ == '__main__':
    sys.exit(main())
