"""Image retrieval with a hashing model, in mmpretrain's inferencer style.

:class:`HashRetrievalInferencer` is to our hashers what
``mmpretrain.apis.ImageRetrievalInferencer`` is to mmpretrain's retrievers:
built from a model (config path + checkpoint, a ModelHub name, a model of
``get_model``) and a *prototype* (the collection searched), called on query
images, returning per query a list of match dicts. Underneath it is the
project's one retrieval stack: :class:`HashEncoder` encodes (test pipeline,
``model.test_step``), :class:`BinaryIndex` searches (Hamming distance, ties
by index position, exact or faiss), :mod:`hashplugins.retrieval.grid`
draws.
"""
import os
import os.path as osp
import warnings
from pathlib import Path
from typing import Callable, List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.config import Config
from mmengine.logging import print_log
from mmpretrain.apis import BaseInferencer
from mmpretrain.structures import DataSample
from torch.utils.data import DataLoader, Dataset

from hashplugins.retrieval.binary_index import BinaryIndex
from hashplugins.retrieval.grid import (dataset_image, draw_retrieval_grid,
                                        save_png)
from .hash_encoder import EncodedImages
from .image_inputs import ImageInput, list_images, read_image
from .inference import ModelInput, build_encoder

#: Result tiles drawn per query for a radius search without ``topk`` (a
#: Hamming ball can hold most of the prototype).
MAX_GRID_RESULTS = 32

_PROTOTYPE_KINDS = ('a folder of images, an image file, a list of image '
                    'files/arrays, an index file (.npz from '
                    'tools/encode.py), a BinaryIndex, a dataset config '
                    'dict, a dataset or a DataLoader')


class HashRetrievalInferencer(BaseInferencer):
    """Search a prototype collection with query images by Hamming distance.

    Args:
        model: A config file (``.py``) with ``pretrained=CHECKPOINT``, a
            :class:`~mmengine.config.Config`, a model name registered with
            :class:`mmpretrain.apis.ModelHub`, a model built by
            :func:`mmpretrain.apis.get_model`, or a :class:`HashEncoder`
            (see :func:`~hashplugins.apis.inference.build_encoder`).
        prototype: The collection searched:

            - ``str``: a folder (images found recursively, sorted), an
              image file, or an index file (``.npz``) of
              ``tools/encode.py`` / :meth:`BinaryIndex.save`;
            - ``list``: image files and/or arrays;
            - ``dict``: a dataset config (built in mmpretrain's scope; the
              config's test pipeline when it sets none);
            - a dataset or a ``DataLoader`` (its dataset);
            - a :class:`BinaryIndex`.

            A query/database dataset contributes its database part. Images
            and datasets are encoded as ``split='database'``.
        prototype_cache: An index file. If it exists, the prototype's codes
            are read from it (refused when it does not match the prototype
            or the model: delete it to encode again); if not, the encoded
            prototype is saved there.
        prepare_batch_size: Batch size for encoding the prototype.
        pretrained: Checkpoint path (or URL); ``True``: the model index's
            weights of a name / a config's ``load_from``; ``False``: none.
        device: ``'cpu'``, ``'cuda'``, ... (default: CUDA when available).
        backend: Search backend of :class:`BinaryIndex`: ``'auto'``,
            ``'exact'`` or ``'faiss'`` (identical results).
        progress: Show progress bars while encoding the prototype.
        **kwargs: Overrides of the model config (as mmpretrain's
            inferencers take them), e.g. ``head=dict(num_bits=32)``.

    Call (``inferencer(images, topk=..., radius=..., batch_size=...)``):
    every query gets the ``topk`` (default 1, as mmpretrain) nearest
    prototype items, or with ``radius`` every item within that Hamming
    distance (at most ``topk`` of them when ``topk`` is given), ordered by
    ``(distance, position in the prototype)``. ``topk`` larger than the
    prototype is clipped to its size (as :meth:`BinaryIndex.search`). Each
    match is a dict:

    - ``match_score``: ``1 - distance / num_bits`` (fraction of equal bits;
      mmpretrain's key, higher is closer);
    - ``sample_idx``: the item's id in the prototype (input position for
      images, the dataset's ``sample_idx``, the index file's ``ids``);
    - ``sample``: ``img_path`` and ``gt_label`` (class indices) where known;
    - ``distance``: Hamming distance (``int``);
    - ``hash_code``: the item's ±1 code, ``(num_bits,)`` ``int8``.

    ``return_datasamples=True`` returns one :class:`DataSample` per query
    instead: ``hash_code`` (the query's code) and ``match_ids``,
    ``match_distances``, ``match_scores``, ``match_positions``. With
    ``show_dir``, a retrieval grid per query is written there
    (``<image stem>.png``; ``tile_size`` pixels per tile).

    Example:
        >>> from hashplugins.apis import HashRetrievalInferencer
        >>> inferencer = HashRetrievalInferencer(
        ...     'configs/dpsh/dpsh_lenet5_mnist5k_16bit.py',
        ...     prototype='digits/', prototype_cache='digits.index.npz',
        ...     pretrained='epoch_10.pth', device='cpu')
        >>> inferencer('query.png', topk=2)[0][0]
        {'match_score': 0.9375, 'sample_idx': 17,
         'sample': {'img_path': 'digits/3/17.png'}, 'distance': 1,
         'hash_code': array([ 1, -1, ...], dtype=int8)}
        >>> inferencer('query.png', radius=2, show_dir='grids/')
    """

    preprocess_kwargs: set = {'progress'}
    forward_kwargs: set = {'topk', 'radius'}
    visualize_kwargs: set = {'show', 'show_dir', 'tile_size'}
    postprocess_kwargs: set = set()

    def __init__(self,
                 model: ModelInput,
                 prototype,
                 prototype_cache: Optional[str] = None,
                 prepare_batch_size: int = 32,
                 pretrained: Union[bool, str, None] = True,
                 device: Optional[str] = None,
                 backend: str = 'auto',
                 progress: bool = True,
                 **kwargs) -> None:
        self.encoder = build_encoder(
            model,
            pretrained,
            device,
            cfg_options=dict(model=kwargs) if kwargs else None)
        # BaseInferencer keeps the model, its config and the pipeline; the
        # weights are already loaded and placed.
        super().__init__(self.encoder.model, pretrained=False, device=None)
        self.backend = backend
        self._meta = self.encoder.index_meta()
        self._items: Optional[list] = None  # images of an image prototype
        self._dataset = None  # dataset of a dataset prototype
        self.prototype_index = self._prepare_prototype(prototype,
                                                       prototype_cache,
                                                       prepare_batch_size,
                                                       progress)

    # ---------------------------------------------------------- prototype
    def _init_pipeline(self, cfg: Config) -> Callable:
        """The encoder's test pipeline (without ``LoadImageFromFile``)."""
        return self.encoder.pipeline

    def _prepare_prototype(self, prototype, cache, batch_size,
                           progress) -> BinaryIndex:
        index = self._prototype_source(prototype)
        if cache is not None and osp.exists(cache):
            cached = BinaryIndex.load(
                cache, num_bits=self.encoder.num_bits, backend=self.backend)
            self._check_index(cached, cache, cache=True)
            self._check_cache_fits(cached, cache, index)
            print_log(
                f'prototype: {len(cached)} codes read from {cache}',
                logger='current')
            return cached
        if index is None:
            index = self._encode_prototype(prototype, batch_size, progress)
        if cache is not None:
            index.save(cache)
            print_log(
                f'prototype: {len(index)} codes saved to {cache}',
                logger='current')
        return index

    def _prototype_source(self, prototype) -> Optional[BinaryIndex]:
        """Sort the prototype: an index is returned (loaded, checked);
        images and datasets are kept (``_items`` / ``_dataset``) for
        encoding and for drawing."""
        if isinstance(prototype, BinaryIndex):
            if self.encoder.num_bits not in (None, prototype.num_bits):
                raise ValueError(
                    f'the prototype BinaryIndex holds {prototype.num_bits}-'
                    f'bit codes; the model makes {self.encoder.num_bits}-'
                    'bit codes')
            self._check_index(prototype, 'the prototype BinaryIndex')
            return prototype
        if isinstance(prototype, (str, os.PathLike)):
            path = str(prototype)
            if not osp.exists(path):
                raise FileNotFoundError(
                    f'prototype {path} does not exist (give '
                    f'{_PROTOTYPE_KINDS})')
            if osp.isfile(path) and path.endswith('.npz'):
                index = BinaryIndex.load(
                    path, num_bits=self.encoder.num_bits, backend=self.backend)
                self._check_index(index, path)
                return index
            self._items = list_images(path)
            return None
        if isinstance(prototype, (list, tuple)):
            if not prototype:
                raise ValueError('the prototype list is empty')
            self._items = list_images(list(prototype))
            return None
        if isinstance(prototype, dict):
            cfg = dict(prototype)
            cfg.setdefault('pipeline', self.encoder.pipeline_cfg)
            self._dataset = self.encoder.build_dataset(cfg)
            return None
        if isinstance(prototype, DataLoader):
            prototype = prototype.dataset
        if isinstance(prototype, Dataset):
            self._dataset = prototype
            return None
        raise TypeError(f'prototype must be {_PROTOTYPE_KINDS}; got '
                        f'{type(prototype).__name__}')

    def _encode_prototype(self, prototype, batch_size,
                          progress) -> BinaryIndex:
        if self._items is not None:
            out = self.encoder(
                self._items,
                batch_size=batch_size,
                split='database',
                progress=progress)
            source = dict(kind='images')
            if isinstance(prototype, (str, os.PathLike)):
                source['inputs'] = [str(prototype)]
            labels = None
        else:
            out = self.encoder.encode_dataset(
                self._dataset,
                split='database',
                batch_size=batch_size,
                progress=progress)
            labels = out.labels
            own = self.encoder.cfg.get(self.encoder.dataloader,
                                       {}).get('dataset')
            if isinstance(prototype, dict) and own is not None and \
                    dict(prototype) == own.to_dict():
                # The config's own dataset: tools/retrieve.py can rebuild
                # it to draw an index saved from here (prototype_cache).
                source = dict(
                    kind='dataset',
                    dataloader=self.encoder.dataloader,
                    split='database')
            else:
                source = dict(
                    kind='prototype_dataset',
                    type=type(self._dataset).__name__)
        index = self.encoder.new_index(backend=self.backend)
        index.meta['source'] = source
        if out.classes:
            index.meta['classes'] = list(out.classes)
        index.add(
            out.packed,
            ids=out.ids,
            paths=out.paths if all(out.paths) else None,
            labels=labels)
        return index

    def _check_index(self,
                     index: BinaryIndex,
                     origin: str,
                     cache: bool = False) -> None:
        """An index made by another model config or checkpoint holds codes
        that are not comparable with this model's: a config mismatch warns
        (refused for a cache), a checkpoint mismatch is refused."""
        fix = (f'delete {origin} to encode the prototype again'
               if cache else 'encode the prototype again with this model '
               '(tools/encode.py CONFIG CHECKPOINT --out INDEX)')
        saved, given = index.config_hash, self._meta['config_hash']
        if saved and saved != given:
            message = (f'{origin} was encoded with another model/pipeline '
                       f'config (config hash {saved}, this model {given}): '
                       f'its codes are not comparable; {fix}')
            if cache:
                raise ValueError(message)
            warnings.warn(message)
        saved = index.meta.get('checkpoint_sha256')
        given = self._meta.get('checkpoint_sha256')
        if saved and given and saved != given:
            raise ValueError(
                f'{origin} was encoded with checkpoint '
                f'{index.meta.get("checkpoint")} (sha256 {saved}...), this '
                f'model loaded {self.encoder.checkpoint} (sha256 {given}...)'
                f': the query codes would come from another model than the '
                f'prototype codes; {fix}')
        if bool(saved) != bool(given):
            why = 'it records no checkpoint hash' if not saved else \
                'this model was loaded from no checkpoint file'
            warnings.warn(f'cannot check that {origin} was encoded with '
                          f"this model's checkpoint: {why}")

    def _check_cache_fits(self, cached: BinaryIndex, cache: str,
                          index: Optional[BinaryIndex]) -> None:
        """A cache must hold as many rows as the prototype (and the same
        image files, where it records them)."""
        paths = None
        if index is not None:
            size = len(index)
        elif self._items is not None:
            size = len(self._items)
            paths = [p if isinstance(p, str) else '' for p in self._items]
        else:
            size = _database_size(self._dataset)
        if len(cached) != size:
            raise ValueError(
                f'the prototype cache {cache} holds {len(cached)} codes but '
                f'the prototype has {size} items: delete it to encode again')
        if paths and cached.paths is not None and all(paths) and \
                list(cached.paths) != paths:
            raise ValueError(
                f'the prototype cache {cache} holds other image files than '
                'the prototype: delete it to encode again')

    def save_prototype(self, path: str) -> None:
        """Save the prototype's index (``.npz``; as ``prototype_cache``)."""
        self.prototype_index.save(path)

    # --------------------------------------------------------------- call
    def __call__(self,
                 inputs: Union[ImageInput, Sequence[ImageInput]],
                 return_datasamples: bool = False,
                 batch_size: int = 1,
                 **kwargs) -> list:
        """Retrieve the prototype items nearest to each query image.

        Args:
            inputs: An image file, a folder (recursively), an array, or a
                list of them.
            return_datasamples: Return :class:`DataSample` objects.
            batch_size: Query images per forward pass.
            topk (int, optional): Matches per query (default 1; with
                ``radius``: no limit). Clipped to the prototype size.
            radius (int, optional): Return every item within this Hamming
                distance (inclusive) instead of the top k.
            show_dir (str, optional): Write a retrieval grid per query here.
            tile_size (int): Grid tile side in pixels (default 96).
            progress (bool): Show a progress bar (default True).

        Returns:
            Per query, the list of its match dicts (class docstring).
        """
        (preprocess_kwargs, forward_kwargs, visualize_kwargs,
         postprocess_kwargs) = self._dispatch_kwargs(**kwargs)
        ori_inputs = self._inputs_to_list(inputs)
        queries = self.preprocess(ori_inputs, batch_size, **preprocess_kwargs)
        preds = self.forward(queries, **forward_kwargs)
        visualization = self.visualize(ori_inputs, preds, **visualize_kwargs)
        return self.postprocess(preds, visualization, return_datasamples,
                                **postprocess_kwargs)

    def _inputs_to_list(self, inputs) -> list:
        """Files, folders (recursively, sorted) and arrays as a list
        (:func:`list_images`)."""
        if isinstance(inputs, (list, tuple)) and not inputs:
            raise ValueError('no query images given (an empty list)')
        return list_images(inputs)

    def preprocess(self,
                   inputs: list,
                   batch_size: int = 1,
                   progress: bool = True) -> EncodedImages:
        """Encode the query images (:class:`HashEncoder`: test pipeline and
        ``model.test_step``, ``split='query'``)."""
        return self.encoder(
            inputs, batch_size=batch_size, split='query', progress=progress)

    def forward(self,
                queries: EncodedImages,
                topk: Optional[int] = None,
                radius: Optional[int] = None) -> List[DataSample]:
        """Search the prototype index; one :class:`DataSample` per query."""
        index = self.prototype_index
        if radius is None:
            res = index.search(queries.packed, 1 if topk is None else topk)
            hits = [(res.ids[i], res.distances[i], res.positions[i])
                    for i in range(len(queries.packed))]
        else:
            if topk is not None and (int(topk) != topk or topk < 1):
                raise ValueError(f'topk must be a positive integer; got '
                                 f'{topk!r}')
            ball = index.range_search(queries.packed, radius)
            hits = [
                tuple(a[:topk] for a in ball.query(i))
                for i in range(len(queries.packed))
            ]
        preds = []
        for i, (ids, dist, pos) in enumerate(hits):
            sample = DataSample(
                metainfo=dict(sample_idx=i, img_path=queries.paths[i] or None))
            sample.set_field(
                torch.from_numpy(queries.codes[i].copy()), 'hash_code')
            dist = torch.from_numpy(np.array(dist, dtype=np.int64))
            sample.set_field(
                torch.from_numpy(np.array(ids, np.int64)), 'match_ids')
            sample.set_field(dist, 'match_distances')
            sample.set_field(
                torch.from_numpy(np.array(pos, np.int64)), 'match_positions')
            sample.set_field(1.0 - dist.double() / index.num_bits,
                             'match_scores')
            preds.append(sample)
        return preds

    # -------------------------------------------------------------- output
    def visualize(self,
                  ori_inputs: list,
                  preds: List[DataSample],
                  show: bool = False,
                  show_dir: Optional[str] = None,
                  tile_size: int = 96) -> Optional[List[np.ndarray]]:
        """A retrieval grid per query (:func:`draw_retrieval_grid`: the
        query, then its matches in rank order captioned with their
        distance), saved as ``show_dir/<image stem>.png``."""
        if show:
            raise NotImplementedError(
                f'{type(self).__name__} does not open windows (show=True); '
                'give show_dir to write the retrieval grids as PNG files')
        if show_dir is None:
            return None
        os.makedirs(show_dir, exist_ok=True)
        grids, used = [], set()
        for i, (item, sample) in enumerate(zip(ori_inputs, preds)):
            query = read_image(item) if isinstance(item, str) else item
            pos = sample.match_positions[:MAX_GRID_RESULTS].tolist()
            dist = sample.match_distances[:MAX_GRID_RESULTS].tolist()
            grid = draw_retrieval_grid(
                [query], [[self._prototype_image(p) for p in pos]],
                distances=[dist],
                tile_size=tile_size)
            name = Path(item).stem if isinstance(item, str) else str(i)
            if name in used:
                name = f'{name}_{i}'
            used.add(name)
            save_png(osp.join(show_dir, f'{name}.png'), grid)
            grids.append(grid)
        return grids

    def _prototype_image(self, pos: int) -> Optional[np.ndarray]:
        """The image of prototype row ``pos`` (``None``: unknown, a blank
        tile)."""
        index = self.prototype_index
        if self._items is not None:
            item = self._items[pos]
            return read_image(item) if isinstance(item, str) else item
        if self._dataset is not None:
            return dataset_image(self._dataset, int(index.ids[pos]))
        if index.paths is not None and index.paths[pos]:
            return read_image(str(index.paths[pos]))
        source = index.meta.get('source', {})
        if source.get('kind') == 'dataset' and source.get('dataloader') \
                in self.encoder.cfg:
            # An index of tools/encode.py over the config's dataset
            # (in-memory data such as MNIST has no paths).
            self._dataset = self.encoder.build_dataset(
                self.encoder.cfg[source['dataloader']]['dataset'])
            return dataset_image(self._dataset, int(index.ids[pos]))
        return None

    def postprocess(self,
                    preds: List[DataSample],
                    visualization: Optional[List[np.ndarray]],
                    return_datasamples: bool = False) -> list:
        """Per query, its list of match dicts (class docstring)."""
        if return_datasamples:
            return preds
        index = self.prototype_index
        codes, paths, labels = index.codes, index.paths, index.labels
        results = []
        for sample in preds:
            pos = sample.match_positions.numpy()
            bits = np.unpackbits(codes[pos], axis=1)[:, :index.num_bits]
            bits = bits.astype(np.int8) * 2 - 1
            matches = []
            for j, p in enumerate(pos):
                info = {}
                if paths is not None and paths[p]:
                    info['img_path'] = str(paths[p])
                if labels is not None:
                    info['gt_label'] = np.flatnonzero(labels[p]).tolist()
                matches.append({
                    'match_score': float(sample.match_scores[j]),
                    'sample_idx': int(sample.match_ids[j]),
                    'sample': info,
                    'distance': int(sample.match_distances[j]),
                    'hash_code': bits[j],
                })
            results.append(matches)
        return results

    @staticmethod
    def list_models(pattern: Optional[str] = None) -> List[str]:
        """Names in :class:`mmpretrain.apis.ModelHub` whose architecture is
        one of our models (``hashplugins``), matching ``pattern`` (a
        wildcard, as :func:`mmpretrain.apis.list_models`). Empty until the
        project's model index is registered."""
        import hashplugins  # noqa: F401  (registers our models)
        from mmpretrain.apis import ModelHub, list_models
        from mmpretrain.registry import MODELS

        def ours(name):
            meta = ModelHub._models_dict[name].metadata
            for arch in getattr(meta, 'architecture', None) or []:
                cls = MODELS.get(arch)
                if cls is not None and \
                        cls.__module__.startswith('hashplugins.'):
                    return True
            return False

        return [n for n in list_models(pattern=pattern) if ours(n)]


def _database_size(dataset) -> int:
    """Rows a dataset contributes to a prototype: a query/database
    dataset's database part, else all."""
    if hasattr(dataset, 'query') and hasattr(dataset, 'database'):
        return len(dataset) - len(dataset.query)
    return len(dataset)
