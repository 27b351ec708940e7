"""Download the official CIFAR-10 python version into a data root.

Fetches https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz (163 MiB)
to ``DATA_ROOT/cifar-10-python.tar.gz`` through a hidden ``.part`` file
(an interrupted download resumes on the next run), checks its md5
(c58f30108f718f92721af3b95e74349a), extracts ``cifar-10-batches-py/``
with member checks, and reads every batch back through the restricted
unpickler to check it. Nothing is downloaded when the pickles are there.
This is the same function as ``CIFAR10Hashing(download=True)``
(:func:`hashplugins.datasets.download_cifar10`).

Example::

    python tools/dataset_converters/download_cifar10.py data/cifar10

then the CIFAR-10 configs (``data_root='data/cifar10'``) run as they are.
``--url``/``--md5`` point at a mirror of the same file.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0,
                osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


def parse_args(argv=None):
    from hashplugins.datasets.cifar10_download import CIFAR10_MD5, CIFAR10_URL
    parser = argparse.ArgumentParser(
        description='Download and check the official CIFAR-10 pickles')
    parser.add_argument(
        'data_root', help='folder to download into (created if missing)')
    parser.add_argument('--url', default=CIFAR10_URL, help='archive URL')
    parser.add_argument('--md5', default=CIFAR10_MD5, help='its md5')
    parser.add_argument(
        '--timeout',
        type=float,
        default=60.0,
        help='seconds a connection may stall')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from hashplugins.datasets.cifar10 import (TEST_BATCH, TRAIN_BATCHES,
                                              read_cifar_batch)
    from hashplugins.datasets.cifar10_download import download_cifar10
    from hashplugins.datasets.errors import DataNotFoundError
    from hashplugins.datasets.preflight import (data_error_message,
                                                show_traceback)
    try:
        folder = download_cifar10(
            args.data_root, url=args.url, md5=args.md5, timeout=args.timeout)
    except DataNotFoundError as err:
        if show_traceback():
            raise
        print(data_error_message(err), file=sys.stderr)
        return 1
    counts = {}
    for name in TRAIN_BATCHES + (TEST_BATCH, ):
        counts[name] = len(read_cifar_batch(osp.join(folder, name))[1])
    n_train = sum(counts[n] for n in TRAIN_BATCHES)
    print(f'CIFAR-10 pickles in {folder}: {n_train} training and '
          f'{counts[TEST_BATCH]} test images, all batches readable')
    return 0


if __name__ == '__main__':
    sys.exit(main())
