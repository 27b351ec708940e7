"""The encoder of ``tools/encode.py`` and ``tools/retrieve.py`` from their
parsed arguments. The arguments themselves are added by
``tools/encoder_args.py`` (no ``hashplugins`` import there, so ``--help``
answers without importing torch and mmpretrain)."""
import argparse

from hashplugins.engine.runner.checkpoint import trust_checkpoints
from hashplugins.engine.runner.checkpoint_fit import load_fitting_checkpoint
from .hash_encoder import HashEncoder


def encoder_from_args(args: argparse.Namespace) -> HashEncoder:
    """A :class:`HashEncoder` from the arguments of
    ``tools/encoder_args.py``'s ``add_encoder_args``."""
    if args.trust_checkpoint:
        trust_checkpoints(True)
    encoder = HashEncoder(
        args.config,
        None,
        device=args.device,
        cfg_options=args.cfg_options,
        dataloader=args.dataloader)
    # The checkpoint-fit policy of every tool (tools/test.py, load_from):
    # a checkpoint that does not fit is refused naming the file, the keys
    # and the likely cause (mmengine's strict load lists sizes only).
    load_fitting_checkpoint(
        encoder.model, args.checkpoint,
        fix=f'Give the config the checkpoint was trained with (not '
        f'{args.config}), or a checkpoint trained with this config.')
    encoder.checkpoint = args.checkpoint  # provenance in index_meta
    return encoder
