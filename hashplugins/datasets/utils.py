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
