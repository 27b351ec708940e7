"""Make TAH's VisDA-2017 list files from the VisDA classification folders.

VisDA-2017 (classification track) unpacks to ``<root>/train/<class>/*``
(152,397 synthetic renderings) and ``<root>/validation/<class>/*`` (55,388
real COCO crops), 12 classes. TAH (Cao et al., AAAI 2018; spec/methods.md
§2.6) uses, in *each* domain, 100 images per class as queries, the rest as
the retrieval database, and 500 images per class for training, drawn from
the database. This writes, under ``OUT_DIR`` (default ``<root>/lists``)::

    synthetic_query.txt  synthetic_database.txt  synthetic_train.txt
    real_query.txt       real_database.txt       real_train.txt
    synthetic_classes.txt  real_classes.txt

in the ``path 0 .. 1 .. 0`` format of ``HashingListDataset`` (paths
relative to ``train/`` or ``validation/``, the ``data_prefix`` of
``configs/_base_/datasets/visda2017_list.py``). A synthetic -> real task
trains on ``synthetic_train`` (labelled) + ``real_train`` (unlabelled) and
retrieves ``real_query`` against ``real_database``; real -> synthetic the
other way round. The official lists hold only 50 queries per class (the
paper says 100): ``--num-query-per-class 50`` reproduces that.

Both domains are checked (folders, identical class sets, enough images per
class) before anything is written; each file is written atomically, and
existing lists with other content are refused without ``--overwrite``.

Example::

    python tools/dataset_converters/visda2017_to_lists.py data/visda2017
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
import folder_to_list  # noqa: E402

DOMAINS = (('synthetic', 'train'), ('real', 'validation'))
VISDA_CLASSES = ('aeroplane', 'bicycle', 'bus', 'car', 'horse', 'knife',
                 'motorcycle', 'person', 'plant', 'skateboard', 'train',
                 'truck')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='VisDA-2017 train/ + validation/ -> TAH list files')
    parser.add_argument('root', help='VisDA-2017 folder holding train/ and '
                        'validation/')
    parser.add_argument('--out-dir', default=None,
                        help='where the lists go (default <root>/lists)')
    parser.add_argument('--num-query-per-class', type=int, default=100,
                        help='queries per class (paper 100; official lists '
                        '50)')
    parser.add_argument('--num-train-per-class', type=int, default=500,
                        help='training images per class and domain (500)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--overwrite', action='store_true',
                        help='replace existing lists')
    return parser.parse_args(argv)


def check_domains(root: str, need_per_class: int) -> None:
    """Raise a clear error unless both VisDA folders are usable."""
    from hashplugins.datasets.image_folder import (list_class_dirs,
                                                   scan_class_folders)
    if not osp.isdir(root):
        raise FileNotFoundError(f'VisDA root {root} is not a folder')
    # Layout of both domains first (cheap), then the per-class counts.
    for name, folder in DOMAINS:
        path = osp.join(root, folder)
        if not osp.isdir(path):
            raise FileNotFoundError(
                f'{path} does not exist: the VisDA-2017 classification '
                f'folder layout is <root>/train/<class>/* (synthetic) and '
                '<root>/validation/<class>/* (real)')
        found = tuple(list_class_dirs(path))
        if found != VISDA_CLASSES:
            raise ValueError(f'{path} ({name}) has class folders {found}; '
                             f'expected the 12 VisDA classes {VISDA_CLASSES}')
    for name, folder in DOMAINS:
        path = osp.join(root, folder)
        _, _, labels = scan_class_folders(path)
        for label, cls in enumerate(VISDA_CLASSES):
            count = int((labels == label).sum())
            if count < need_per_class:
                raise ValueError(
                    f'{path}/{cls} holds {count} images, fewer than the '
                    f'{need_per_class} the protocol needs per class')


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.num_query_per_class < 1 or args.num_train_per_class < 1:
        raise ValueError('--num-query-per-class and --num-train-per-class '
                         'must be positive')
    out_dir = args.out_dir or osp.join(args.root, 'lists')
    check_domains(args.root,
                  args.num_query_per_class + args.num_train_per_class)
    outputs = [
        osp.join(out_dir, f'{name}_{part}.txt') for name, _ in DOMAINS
        for part in ('query', 'database', 'train', 'classes')
    ]
    existing = [p for p in outputs if osp.exists(p)]
    if existing and not args.overwrite:
        # Refuse before writing anything, so the two domains' lists never
        # come from different runs.
        raise FileExistsError(f'{existing} already exist; pass --overwrite '
                              'to replace them')
    for name, folder in DOMAINS:
        cmd = [
            osp.join(args.root, folder),
            osp.join(out_dir, name), '--split', '--num-query-per-class',
            str(args.num_query_per_class), '--num-train-per-class',
            str(args.num_train_per_class), '--database', 'rest_plus_train',
            '--seed',
            str(args.seed)
        ]
        if args.overwrite:
            cmd.append('--overwrite')
        print(f'== {name} ({folder}/)')
        folder_to_list.main(cmd)
    return 0


if __name__ == '__main__':
    sys.exit(main())
