"""Command-line arguments shared by ``tools/encode.py`` and
``tools/retrieve.py``: the model (config + checkpoint) and how to run it.

Not a tool itself. It imports only ``argparse`` and mmengine's config
module (``DictAction``), not ``hashplugins``, so a tool can build its
parser, answer ``--help`` and reject bad arguments before it imports torch,
mmpretrain and the whole package (about 3 s). Tools import it as
``tools.encoder_args`` after putting the repository root on ``sys.path``;
:func:`hashplugins.apis.cli.encoder_from_args` builds the encoder from the
parsed arguments.
"""
import argparse

from mmengine.config import DictAction


def add_encoder_args(parser: argparse.ArgumentParser) -> None:
    """Add ``config``, ``checkpoint``, ``--device``, ``--batch-size``,
    ``--num-workers``, ``--trust-checkpoint``, ``--cfg-options``,
    ``--dataloader``, ``--no-progress``."""
    parser.add_argument('config', help='model config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--device',
        default=None,
        help='cpu, cuda, cuda:1, ... (default: cuda when available)')
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--num-workers', type=int, default=0)
    parser.add_argument(
        '--trust-checkpoint',
        action='store_true',
        help='allow a full unpickle of a checkpoint that is not plain '
        'tensors (only for files you trust: it can run code)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings in the config, key=value pairs')
    parser.add_argument(
        '--dataloader',
        default='test_dataloader',
        help='config key of the dataset (and test pipeline) to use')
    parser.add_argument(
        '--no-progress', action='store_true', help='no progress bar')
