"""Errors for data a user has not got (yet), with what would fix it.

A dataset whose files are missing raises :class:`DataNotFoundError`: a
``FileNotFoundError`` whose message is meant to be read by a person. It
names the key and path that were given, the layout the dataset expects and
the command or doc section that prepares it, in a few lines. ``tools/
train.py`` prints such an error alone, without the traceback (set
``HASHPLUGINS_TRACEBACK=1`` for it).

Dataset classes describe themselves with two class attributes, read by
:func:`data_not_found` and by :mod:`hashplugins.datasets.preflight`:

- ``DATA_LAYOUT``: the files the data root must hold;
- ``DATA_HOWTO``: the command or doc that gets them.
"""
from typing import Optional

DOC = 'docs/datasets.md'


class DataNotFoundError(FileNotFoundError):
    """A dataset's files are not where its config says (message for users).

    The message is complete on its own: what is missing (key and path),
    the expected layout, and how to get the data.
    """


def data_not_found(dataset_cls,
                   problem: str,
                   layout: Optional[str] = None,
                   data_root: Optional[str] = None) -> DataNotFoundError:
    """Build the user-facing error for missing data of ``dataset_cls``.

    Args:
        dataset_cls: The dataset class (or an instance); its
            ``DATA_LAYOUT`` and ``DATA_HOWTO`` attributes, when present,
            become the "expected" and "to get it" lines.
        problem (str): First line: what is missing, naming the key and the
            path (e.g. ``'data_root=/x does not exist'``).
        layout (str, optional): Overrides ``DATA_LAYOUT``.
        data_root (str, optional): Put in place of ``<data_root>`` in the
            "to get it" line, so the command can be pasted as is.

    Returns:
        DataNotFoundError: Raise it.
    """
    cls = dataset_cls if isinstance(dataset_cls, type) else type(dataset_cls)
    lines = [problem]
    layout = layout or getattr(cls, 'DATA_LAYOUT', None)
    howto = getattr(cls, 'DATA_HOWTO', None)
    if layout:
        lines.append(f'  expected: {layout}')
    if howto:
        if data_root:
            howto = howto.replace('<data_root>', data_root)
        lines.append(f'  to get it: {howto}')
    return DataNotFoundError('\n'.join(lines))


def config_key_hint() -> str:
    """Where a dataset's ``data_root`` comes from, for errors raised inside
    a dataset (which cannot know its dotted config path)."""
    return ('the data_root of the dataset config, e.g. '
            'train_dataloader.dataset.data_root')
