"""Search a binary index with query images: top-k (or a Hamming ball) as a
table, a JSON file and a picture grid (query beside its results, relevant
results marked when labels are known). See docs/retrieval.md.

Examples:
    # queries from the config's query set (labels known: marked grid)
    python tools/retrieve.py CONFIG CHECKPOINT work_dirs/db.index.npz \\
        --query-split query --num-queries 5 --topk 8 --grid grid.png
    # your own query images
    python tools/retrieve.py CONFIG CHECKPOINT work_dirs/photos.index.npz \\
        --queries my_query.jpg more_queries/ --topk 10 --out-json res.json
    # every item within Hamming distance 2
    python tools/retrieve.py CONFIG CHECKPOINT db.index.npz \\
        --queries q.jpg --radius 2
"""
import argparse
import json
import os.path as osp
import sys
import warnings

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import numpy as np  # noqa: E402

from hashplugins.apis import BinaryIndex, class_folder_images  # noqa: E402
from hashplugins.apis.cli import encoder_from_args  # noqa: E402
from hashplugins.apis.image_inputs import read_image  # noqa: E402
from hashplugins.evaluation.functional.io import atomic_output  # noqa: E402
from hashplugins.retrieval.faiss_backend import RANGE_INDEXES  # noqa: E402
from hashplugins.retrieval.grid import (dataset_image,  # noqa: E402
                                        draw_retrieval_grid, save_png)
from tools.encoder_args import add_encoder_args  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Search a binary index with query images')
    add_encoder_args(parser)
    parser.add_argument('index', help='index file from tools/encode.py')
    parser.add_argument(
        '--queries', nargs='+', help='query image files and/or folders')
    parser.add_argument(
        '--labels-from-subdirs', action='store_true',
        help='with one --queries folder laid out <root>/<class>/*: query '
        'labels from the class folders, matched to the index classes by '
        'name')
    parser.add_argument(
        '--query-split', choices=['query', 'database'],
        help='take the queries from this split of the config dataset '
        'instead of --queries')
    parser.add_argument(
        '--num-queries', type=int, default=5,
        help='with --query-split: how many queries, evenly spaced')
    parser.add_argument('--topk', type=int, default=10)
    parser.add_argument(
        '--radius', type=int, default=None,
        help='return every item within this Hamming distance instead of '
        'the top k (the table and grid show at most --topk of them)')
    parser.add_argument(
        '--backend', default='auto', choices=['auto', 'exact', 'faiss'])
    parser.add_argument(
        '--range-index', default='multihash', choices=list(RANGE_INDEXES),
        help="faiss index for --radius (all exact): 'multihash', 'hash' "
        "(small radii on clustered codes) or 'flat' (large radii)")
    parser.add_argument(
        '--hash-bits', type=int, default=None,
        help="key bits of --range-index hash (default 16)")
    parser.add_argument('--out-json', help='write the results here')
    parser.add_argument('--grid', help='write the picture grid here (.png)')
    parser.add_argument('--tile-size', type=int, default=96)
    parser.add_argument(
        '--allow-other-checkpoint', action='store_true',
        help='search even when the checkpoint is not the one the index was '
        'encoded with (a warning instead of an error: the query codes then '
        'come from another model than the database codes)')
    args = parser.parse_args(argv)
    for name in ('topk', 'num_queries'):
        if getattr(args, name) < 1:
            parser.error(f'--{name.replace("_", "-")} must be a positive '
                         f'integer, got {getattr(args, name)}')
    return args


def _query_labels_from_dirs(root, index):
    classes, paths, class_ids = class_folder_images(root)
    known = index.meta.get('classes')
    if index.labels is None or not known:
        warnings.warn('the index has no labels/classes: relevance unknown')
        return paths, None
    width = index.labels.shape[1]
    labels = np.zeros((len(paths), width), dtype=np.uint8)
    for row, cid in zip(labels, class_ids):
        name = classes[cid]
        if name in known:
            row[known.index(name)] = 1
    return paths, labels


def encode_queries(args, encoder, index):
    """``(encoded queries, query labels or None, dataset or None)``."""
    common = dict(batch_size=args.batch_size, num_workers=args.num_workers,
                  progress=not args.no_progress)
    if args.query_split:
        dataset = encoder.build_dataset()
        size = len(getattr(dataset, args.query_split, dataset))
        subset = np.unique(
            np.linspace(0, size - 1, min(args.num_queries, size)).round()
            .astype(np.int64))
        out = encoder.encode_dataset(dataset, split='query' if
                                     args.query_split == 'query' else
                                     'database', subset=subset, **common)
        return out, out.labels, dataset
    if not args.queries:
        raise SystemExit('give --queries or --query-split')
    labels = None
    inputs = args.queries
    if args.labels_from_subdirs:
        if len(args.queries) != 1 or not osp.isdir(args.queries[0]):
            raise SystemExit('--labels-from-subdirs needs exactly one '
                             '--queries folder')
        inputs, labels = _query_labels_from_dirs(args.queries[0], index)
    return encoder(inputs, split='query', **common), labels, None


def search(args, index, packed):
    """Per query, ``(ids, distances, positions)`` arrays."""
    if args.radius is not None:
        res = index.range_search(packed, args.radius)
        return [res.query(i) for i in range(len(packed))]
    res = index.search(packed, args.topk)
    return [(res.ids[i], res.distances[i], res.positions[i])
            for i in range(len(packed))]


def relevance(q_labels, index, hits):
    if q_labels is None or index.labels is None:
        return None
    if q_labels.shape[1] != index.labels.shape[1]:
        width = max(q_labels.shape[1], index.labels.shape[1])
        q_labels = np.pad(q_labels, ((0, 0), (0, width - q_labels.shape[1])))
        db = np.pad(index.labels, ((0, 0),
                                   (0, width - index.labels.shape[1])))
    else:
        db = index.labels
    return [(db[pos] & q_labels[i]).any(axis=1)
            for i, (_, _, pos) in enumerate(hits)]


def result_image(index, dataset, pos, args, encoder):
    """The image of index row ``pos``: its path, or the config dataset's
    sample ``id`` for an index encoded from that dataset."""
    if index.paths is not None and index.paths[pos]:
        return read_image(str(index.paths[pos]))
    source = index.meta.get('source', {})
    if source.get('kind') == 'dataset':
        if dataset is None:
            dataset = encoder.build_dataset(
                encoder.cfg[source['dataloader']]['dataset'])
        return dataset_image(dataset, int(index.ids[pos]))
    return None


def check_same_checkpoint(args, index, meta):
    """Refuse (warn with ``--allow-other-checkpoint``) when the index was
    encoded with another checkpoint than ``args.checkpoint``: the query
    codes would come from another model than the database codes, and the
    results would look fine while meaning little (measured: mAP 0.81 fell
    to 0.54, no message)."""
    saved = index.meta.get('checkpoint_sha256')
    given = meta.get('checkpoint_sha256')
    if saved is None:
        warnings.warn(
            f'{args.index} records no checkpoint hash (encoded without a '
            'checkpoint file, or by an older version): cannot check that '
            f'{args.checkpoint} is the checkpoint it was encoded with')
        return
    if saved == given:
        return
    message = (
        f'{args.index} was encoded with checkpoint '
        f'{index.meta.get("checkpoint")} (sha256 {saved}...), but the '
        f'checkpoint given is {args.checkpoint} (sha256 {given}...): the '
        'query codes would come from another model than the database '
        'codes, so the results would be meaningless. Give the checkpoint '
        'the index was encoded with, or encode the database again with '
        'this one (tools/encode.py CONFIG CHECKPOINT --out INDEX); '
        '--allow-other-checkpoint searches anyway.')
    if not args.allow_other_checkpoint:
        raise SystemExit(message)
    warnings.warn(message)


def main(argv=None):
    args = parse_args(argv)
    encoder = encoder_from_args(args)
    index = BinaryIndex.load(args.index, num_bits=encoder.num_bits,
                             backend=args.backend,
                             range_index=args.range_index,
                             hash_bits=args.hash_bits)
    meta = encoder.index_meta()
    if index.config_hash and index.config_hash != meta['config_hash']:
        warnings.warn(
            f'{args.index} was encoded with another model/pipeline config '
            f'(config hash {index.config_hash}, this one '
            f'{meta["config_hash"]}): distances may be meaningless')
    check_same_checkpoint(args, index, meta)
    queries, q_labels, dataset = encode_queries(args, encoder, index)
    hits = search(args, index, queries.packed)
    rel = relevance(q_labels, index, hits)
    names = [p or f'query id {i}' for p, i in zip(queries.paths,
                                                  queries.ids)]
    records = []
    print(f'{"query":<40} {"rank":>4} {"id":>8} {"dist":>4} {"rel":>3} '
          'path')
    for qi, (ids, dists, pos) in enumerate(hits):
        rows = []
        for rank, (i, d, p) in enumerate(zip(ids, dists, pos)):
            r = None if rel is None else bool(rel[qi][rank])
            path = str(index.paths[p]) if index.paths is not None else ''
            rows.append(dict(rank=rank + 1, id=int(i), distance=int(d),
                             relevant=r, path=path))
            if rank < args.topk:
                mark = '' if r is None else ('+' if r else '-')
                print(f'{names[qi][-40:]:<40} {rank + 1:>4} {i:>8} {d:>4} '
                      f'{mark:>3} {path}')
        records.append(dict(query=names[qi], results=rows))
    if args.out_json:
        with atomic_output(args.out_json) as tmp, open(tmp, 'w') as f:
            json.dump(dict(index=args.index, topk=args.topk,
                           radius=args.radius, tie_break='index',
                           queries=records), f, indent=1)
    if args.grid:
        if dataset is not None:
            q_images = [dataset_image(dataset, i) for i in queries.ids]
        else:
            q_images = [read_image(p) if p else None for p in queries.paths]
        shown = [pos[:args.topk] for _, _, pos in hits]
        r_images = [[result_image(index, dataset, p, args, encoder)
                     for p in row] for row in shown]
        grid = draw_retrieval_grid(
            q_images, r_images,
            distances=[d[:args.topk] for _, d, _ in hits],
            relevant=None if rel is None else [r[:args.topk] for r in rel],
            tile_size=args.tile_size)
        save_png(args.grid, grid)
        print(f'grid: {args.grid} ({grid.shape[1]}x{grid.shape[0]} px)')
    return records


if __name__ == '__main__':
    main()
