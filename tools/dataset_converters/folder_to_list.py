"""Turn a ``<root>/<class>/*.jpg`` tree into hashing list files.

Writes lines ``<class>/<image> 0 0 1 0 ...`` (path relative to ROOT, then a
one-hot vector over the sorted class folders), the format
``HashingListDataset`` reads, plus ``<prefix>_classes.txt`` (class names
in label order).

Without ``--split`` one list ``<prefix>.txt`` holds every image. With
``--split`` the images are cut by the per-class protocol splitter into
``<prefix>_query.txt``, ``<prefix>_train.txt`` and
``<prefix>_database.txt``, using a named protocol of ``ImageFolderDomain``
('a', 'b', 'tah') or explicit per-class counts. Every file is written
atomically; outputs that exist with other content are refused unless
``--overwrite``.

Example (VisDA-2017 real domain, TAH's protocol)::

    python tools/dataset_converters/folder_to_list.py \
        data/visda2017/validation data/visda2017/lists/real \
        --split --protocol tah --seed 0
"""
import argparse
import os.path as osp
import sys


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='image folder tree -> "path 0 1 0 ..." list files')
    parser.add_argument('root', help='folder whose sub-folders are classes')
    parser.add_argument(
        'out_prefix',
        help='output prefix: writes <prefix>.txt, or <prefix>_query.txt, '
        '<prefix>_train.txt, <prefix>_database.txt with --split')
    parser.add_argument(
        '--split', action='store_true', help='cut query/train/database')
    parser.add_argument(
        '--protocol',
        default='b',
        help="named protocol of ImageFolderDomain ('a', 'b', 'tah'); "
        'ignored when --num-query-per-class is given')
    parser.add_argument('--num-query-per-class', type=int, default=None)
    parser.add_argument(
        '--num-train-per-class',
        type=int,
        default=None,
        help='training images per class (default: every non-query image)')
    parser.add_argument(
        '--database',
        default='rest_plus_train',
        choices=('rest', 'rest_plus_train', 'all'))
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--extensions',
        default='.jpg,.jpeg,.png,.bmp,.ppm,.pgm,.tif,.tiff,.webp',
        help='comma-separated accepted image suffixes')
    parser.add_argument(
        '--overwrite', action='store_true', help='replace existing lists')
    return parser.parse_args(argv)


def list_lines(rel_paths, labels, indices, num_classes) -> str:
    """Lines ``path 0 .. 1 .. 0`` for the given pool indices."""
    out = []
    for i in indices:
        vector = ['0'] * num_classes
        vector[labels[i]] = '1'
        out.append(f'{rel_paths[i]} {" ".join(vector)}\n')
    return ''.join(out)


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


def main(argv=None) -> int:
    args = parse_args(argv)
    from hashplugins.datasets import ImageFolderDomain
    from hashplugins.datasets.cache import atomic_write_text
    from hashplugins.datasets.image_folder import scan_class_folders
    from hashplugins.datasets.protocols import (per_class_protocol,
                                                resolve_protocol)
    from hashplugins.datasets.splits import make_split, validate_split

    if not osp.isdir(args.root):
        raise FileNotFoundError(f'root={args.root} is not a folder')
    extensions = tuple(e.strip() for e in args.extensions.split(',') if e)
    classes, rel_paths, labels = scan_class_folders(
        args.root, extensions=extensions)
    if any(' ' in p or '\t' in p for p in rel_paths):
        bad = next(p for p in rel_paths if ' ' in p or '\t' in p)
        raise ValueError(f'{args.root}: path {bad!r} contains whitespace, '
                         'which the list format cannot represent; rename it')

    outputs = {
        f'{args.out_prefix}_classes.txt': ''.join(f'{c}\n' for c in classes)
    }
    if not args.split:
        outputs[f'{args.out_prefix}.txt'] = list_lines(rel_paths, labels,
                                                       range(len(labels)),
                                                       len(classes))
        counts = {'all': len(labels)}
    else:
        if args.num_query_per_class is not None:
            spec = per_class_protocol(args.num_query_per_class,
                                      args.num_train_per_class, args.database)
            name = 'custom'
        else:
            name, spec = resolve_protocol(
                args.protocol,
                ImageFolderDomain.PROTOCOLS,
                owner='folder_to_list')
        split = make_split(labels, spec, args.seed)
        validate_split(split, labels, spec, source=args.root)
        counts = {}
        for part, idx in split.items():
            outputs[f'{args.out_prefix}_{part}.txt'] = list_lines(
                rel_paths, labels, idx, len(classes))
            counts[part] = len(idx)
        print(f'protocol {name} {spec}, seed {args.seed}')
    changed = [
        p for p, text in outputs.items() if osp.exists(p) and _read(p) != text
    ]
    if changed and not args.overwrite:
        raise FileExistsError(f'{changed} already exist with other content; '
                              'pass --overwrite to replace them')
    for path, text in outputs.items():
        atomic_write_text(path, text)
    print(f'{args.root}: {len(labels)} images, {len(classes)} classes')
    for part, n in counts.items():
        print(f'  {part:9s} {n:6d}')
    print('written: ' + ', '.join(outputs))
    return 0


if __name__ == '__main__':
    sys.exit(main())
