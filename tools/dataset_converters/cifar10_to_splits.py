"""Write the split files of a CIFAR-10 hashing protocol.

Reads a CIFAR-10 copy (official pickles, an image folder with
``official_order.npz``, or an archive of either), draws the protocol's
split from the seed, and writes ``query.txt``, ``train.txt``,
``database.txt`` (pool indices, one per line) and ``meta.json`` into
OUT_DIR atomically. An OUT_DIR that already holds the same split is
checked and kept; one made for another protocol/seed/dataset is an error.

Example::

    python tools/dataset_converters/cifar10_to_splits.py \
        data/cifar10 work_dirs/splits/cifar10_a_seed0 --protocol a --seed 0

then pass ``split_dir='work_dirs/splits/cifar10_a_seed0'`` to every
``CIFAR10Hashing`` of the config.
"""
import argparse
import sys

import numpy as np


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='CIFAR-10 (pickles or image folder) -> hashing split '
        'files')
    parser.add_argument('data_root', help='CIFAR-10 folder or archive')
    parser.add_argument('out_dir', help='split directory to write')
    parser.add_argument(
        '--protocol',
        default='a',
        help="'a' (default), 'b', 'c', or the aliases 'cifar10', "
        "'cifar10-1', 'cifar10-2'")
    parser.add_argument('--seed', type=int, default=0, help='split seed')
    parser.add_argument(
        '--order-file', default=None, help='path of official_order.npz')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from hashplugins.datasets import CIFAR10Hashing

    # split='all' + lazy_init: only the pool is read, no split is drawn yet.
    dataset = CIFAR10Hashing(
        data_root=args.data_root,
        split='all',
        protocol=args.protocol,
        seed=args.seed,
        split_dir=args.out_dir,
        order_file=args.order_file,
        lazy_init=True)
    pool = dataset.load_pool()
    split = dataset.load_split(pool)
    print(f'{pool.name}: {len(pool.labels)} images, protocol '
          f'{dataset.protocol_name} {dataset.protocol}, seed {args.seed}')
    for name, idx in split.items():
        per_class = np.bincount(pool.labels[idx], minlength=10)
        print(f'  {name:9s} {len(idx):6d}  per class {per_class.tolist()}')
    print(f'written to {args.out_dir}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
