"""Config surgery shared by the config and device tests: drop model-zoo
checkpoints, find the leaf datasets of wrapped dataset configs, point them
at the shared real data. Named apart from test files so no test folder
shadows it."""
import os.path as osp

from mmengine.config import Config


# Where the shared data provides each dataset type (relative to shared/data).
SHARED_ROOTS = {
    'CIFAR10Hashing': 'cifar10/CIFAR-10-images.tar.gz',
    'MNISTHashing': 'mnist',
    'USPSHashing': 'usps',
    'PACSDomain': 'pacs/pacs_128.tar.gz',
}
NO_ROOT_NEEDED = {'MNIST5kHashing'}


def drop_pretrained(cfg):
    """Remove every Pretrained init_cfg (tests never download)."""
    if isinstance(cfg, Config):  # not a dict itself: its ConfigDict is
        cfg = cfg._cfg_dict
    if isinstance(cfg, dict):
        init = cfg.get('init_cfg')
        if isinstance(init, dict) and init.get('type') == 'Pretrained':
            cfg['init_cfg'] = None
        for value in cfg.values():
            drop_pretrained(value)
    elif isinstance(cfg, (list, tuple)):
        for value in cfg:
            drop_pretrained(value)


def leaf_datasets(cfg):
    """The datasets a (possibly wrapping) dataset config builds."""
    if 'query' in cfg and 'database' in cfg:
        return [cfg['query'], cfg['database']]
    if 'source' in cfg and 'target' in cfg:  # TransferPairDataset
        return leaf_datasets(cfg['source']) + leaf_datasets(cfg['target'])
    if 'labelled' in cfg and 'unlabelled' in cfg:  # SemiSupervisedDataset
        return (leaf_datasets(cfg['labelled']) +
                leaf_datasets(cfg['unlabelled']))
    if 'real' in cfg and 'fake' in cfg:  # RealFakeDataset: real part only
        return leaf_datasets(cfg['real'])
    for key in ('dataset', 'source', 'target'):
        if key in cfg:
            return leaf_datasets(cfg[key])
    return [cfg]


def point_to_shared(dataset_cfg, shared_root):
    """Point every leaf dataset at shared data; False if unavailable."""
    for leaf in leaf_datasets(dataset_cfg):
        kind = leaf['type']
        if kind in NO_ROOT_NEEDED:
            continue
        if kind not in SHARED_ROOTS or shared_root is None:
            return False
        leaf['data_root'] = osp.join(shared_root, SHARED_ROOTS[kind])
    return True
