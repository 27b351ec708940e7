"""Small helpers shared by the dataset classes and dataset wrappers."""
from typing import Sequence

from mmpretrain.registry import DATASETS


def build_dataset(cfg, owner: str, role: str):
    """Build a wrapped dataset from its config, or accept a built one.

    The dataset is fully initialised (wrappers index into it at once) and
    must not be empty.

    Args:
        cfg (dict | Dataset): Dataset config or dataset instance.
        owner (str): The wrapper's name, for error messages.
        role (str): What the dataset is to the wrapper ('query', 'source').

    Returns:
        The dataset.
    """
    if isinstance(cfg, dict):
        dataset = DATASETS.build(cfg)
    elif hasattr(cfg, 'get_data_info') and hasattr(cfg, '__len__'):
        dataset = cfg
    else:
        raise TypeError(f'{owner}: {role} must be a dataset config dict or a '
                        f'dataset, got {type(cfg)}')
    if hasattr(dataset, 'full_init'):
        dataset.full_init()
    if len(dataset) == 0:
        raise ValueError(f'{owner}: the {role} dataset is empty')
    return dataset


def pipeline_loads_files(pipeline: Sequence) -> bool:
    """Whether a pipeline (configs or transforms) contains a file loader."""
    for t in pipeline:
        name = t.get('type', '') if isinstance(t, dict) else type(t).__name__
        name = name if isinstance(name, str) else getattr(name, '__name__', '')
        if name.split('.')[-1] == 'LoadImageFromFile':
            return True
    return False


def _is_plain_file_loader(t) -> bool:
    if not isinstance(t, dict) or set(t) != {'type'}:
        return False
    name = t['type'] if isinstance(t['type'], str) else getattr(
        t['type'], '__name__', '')
    return name.split('.')[-1] == 'LoadImageFromFile'


def drop_plain_file_loader(pipeline: Sequence):
    """``pipeline`` without its ``dict(type='LoadImageFromFile')`` entries
    (no other argument), and whether one was dropped.

    For a pool whose decoded images are the uint8 HxWx3 BGR arrays that
    loader would make (the CIFAR-10 pickles), such an entry changes nothing,
    so one config serves the pickles and an image-folder copy alike. A
    loader with arguments (``to_float32``, ``color_type``, ...) is kept, and
    then refused by the caller.
    """
    kept = [t for t in pipeline if not _is_plain_file_loader(t)]
    return kept, len(kept) != len(pipeline)


class SampleLoadError(RuntimeError):
    """Loading or transforming one sample failed; names the sample."""


def prepare_naming_sample(dataset, idx: int):
    """``dataset.pipeline(dataset.get_data_info(idx))``; an error inside the
    pipeline (an unreadable, truncated or empty image, ...) is re-raised as
    :class:`SampleLoadError` naming the dataset, index, image path and list
    line, because decoders often do not say which file they failed on."""
    info = dataset.get_data_info(idx)
    try:
        return dataset.pipeline(info)
    except Exception as err:
        where = [f'sample {idx}']
        for key in ('img_path', 'list_line', 'pool_index'):
            if info.get(key) is not None:
                where.append(f'{key}={info[key]!r}')
        raise SampleLoadError(
            f'{type(dataset).__name__}: could not load {", ".join(where)}: '
            f'{type(err).__name__}: {err}') from err
