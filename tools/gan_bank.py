"""Write a fake-image bank from a trained GAN (ganreg stage 1 -> stage 2).

The bank (``OUT/manifest.json`` + ``OUT/images/*.png``) appears only when
complete: images are rendered into a temporary sibling folder, then
renamed. Conditional generators get balanced labels, stored in the
manifest. Read the bank with ``dict(type='FakeImageBank', data_root=OUT)``.

Examples:
    python tools/gan_bank.py configs/ganreg/dcgan_cifar10-500pc_32px_stage1.py \
        work_dirs/dcgan/iter_50000.pth data/ganreg/bank_cifar10 --num 50000
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import torch  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.registry import DefaultScope  # noqa: E402
from mmpretrain.registry import MODELS  # noqa: E402

import hashplugins  # noqa: E402,F401  (registers everything)
from hashplugins.datasets import write_fake_bank  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Write a fake-image bank')
    parser.add_argument('config', help='stage-1 GAN config')
    parser.add_argument('checkpoint', help='stage-1 checkpoint')
    parser.add_argument('out', help='bank folder to create')
    parser.add_argument('--num', type=int, default=50000,
                        help='number of images (default 50000)')
    parser.add_argument('--batch-size', type=int, default=256)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--overwrite', action='store_true',
                        help='replace an existing bank')
    return parser.parse_args(argv)


def build_trained_gan(config: str, checkpoint: str):
    """The config's GAN with the checkpoint's weights (weights_only)."""
    cfg = Config.fromfile(config)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(cfg.model)
    state = torch.load(checkpoint, map_location='cpu', weights_only=True)
    model.load_state_dict(state.get('state_dict', state), strict=True)
    return model.eval()


def main(argv=None) -> str:
    args = parse_args(argv)
    model = build_trained_gan(args.config, args.checkpoint)
    out = write_fake_bank(
        lambda n, labels, rng: model.sample(n, labels=labels, generator=rng),
        args.out, args.num, num_classes=model.num_classes,
        batch_size=args.batch_size, seed=args.seed,
        overwrite=args.overwrite,
        extra_meta=dict(config=osp.abspath(args.config),
                        checkpoint=osp.abspath(args.checkpoint)))
    print(f'wrote {args.num} fake images to {out}')
    return out


if __name__ == '__main__':
    main()
