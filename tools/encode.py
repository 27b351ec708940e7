"""Encode images with a trained hashing model into a binary index file.

Either a dataset split of the config (default: the database of
``test_dataloader``) or image files / folders. The index (``.npz``, read by
``tools/retrieve.py`` and ``tools/analysis_tools/code_stats.py``) holds the
packed codes, ids, image paths, labels when known, and metadata (code
length, method, config hash, checkpoint). See docs/retrieval.md.

Examples:
    # the database of the config's test set
    python tools/encode.py CONFIG CHECKPOINT --out work_dirs/db.index.npz
    # your own images: a folder (recursively), files, or both
    python tools/encode.py CONFIG CHECKPOINT --images photos/ \\
        --out work_dirs/photos.index.npz --device cuda --batch-size 128
    # <root>/<class>/*.jpg: labels from the class folders
    python tools/encode.py CONFIG CHECKPOINT --images pacs/photo \\
        --labels-from-subdirs --out work_dirs/photo.index.npz
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

# argparse only: hashplugins (torch, mmpretrain, ~3 s) is imported in
# main, after the arguments parsed, so --help and usage errors are instant.
from tools.encoder_args import add_encoder_args  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Encode images into a binary index file')
    add_encoder_args(parser)
    parser.add_argument('--out', required=True, help='index file (.npz)')
    parser.add_argument(
        '--images', nargs='+',
        help='image files and/or folders to encode instead of a dataset')
    parser.add_argument(
        '--labels-from-subdirs', action='store_true',
        help='with one --images folder laid out <root>/<class>/*: store '
        'labels from the class folders (marks relevant results)')
    parser.add_argument(
        '--split', default='database', choices=['database', 'query', 'all'],
        help='dataset split to encode (without --images)')
    parser.add_argument(
        '--backend', default='auto', choices=['auto', 'exact', 'faiss'],
        help='search backend recorded with the index (any can be used '
        'later)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from hashplugins.apis import class_folder_images
    from hashplugins.apis.cli import encoder_from_args
    encoder = encoder_from_args(args)
    meta, labels, classes = {}, None, None
    progress = not args.no_progress
    if args.images:
        if args.labels_from_subdirs:
            if len(args.images) != 1 or not osp.isdir(args.images[0]):
                raise SystemExit('--labels-from-subdirs needs exactly one '
                                 '--images folder')
            classes, paths, class_ids = class_folder_images(args.images[0])
            inputs = paths
        else:
            inputs = args.images
        out = encoder(inputs, batch_size=args.batch_size, split='database',
                      num_workers=args.num_workers, progress=progress)
        if classes is not None:
            labels = (class_ids[:, None] == range(len(classes))).astype(
                'uint8')
        meta['source'] = dict(kind='images', inputs=list(args.images))
    else:
        out = encoder.encode_dataset(
            split=args.split, batch_size=args.batch_size,
            num_workers=args.num_workers, progress=progress)
        labels = out.labels
        classes = out.classes
        meta['source'] = dict(kind='dataset', dataloader=args.dataloader,
                              split=args.split)
    if classes is not None:
        meta['classes'] = list(classes)
    index = encoder.new_index(backend=args.backend)
    index.meta.update(meta)
    has_paths = all(out.paths)
    index.add(out.packed, ids=out.ids,
              paths=out.paths if has_paths else None, labels=labels)
    index.save(args.out)
    print(f'{args.out}: {len(index)} codes of {index.num_bits} bits '
          f'({index.method}, config hash {index.config_hash}'
          f'{", labels" if labels is not None else ""}'
          f'{", paths" if has_paths else ""})')
    return index


if __name__ == '__main__':
    main()
