"""hashplugins: deep hashing for image retrieval as OpenMMLab plugins.

Importing this package registers every component (models, losses, heads,
hooks, datasets, transforms, metrics) into mmpretrain's registries, exactly
as mmpretrain's own ``projects/`` do. Configs load it with::

    custom_imports = dict(imports=['hashplugins'], allow_failed_imports=False)
"""
from .version import __version__
from . import engine  # noqa: E402  (checkpoint loader first: it patches I/O)
from . import datasets, evaluation, models  # noqa: E402

__all__ = ['__version__']
