"""Datasets, dataset wrappers and transforms for deep hashing.

Importing this package registers every class below into mmpretrain's
``DATASETS`` / ``TRANSFORMS`` registries. See ``docs/datasets.md``.
"""
from . import transforms
from .base import Pool, SingleLabelHashingDataset
from .cifar10 import CIFAR10Hashing
from .cifar10_download import download_cifar10
from .collate import CollatedSamples, hash_collate
from .decoded_cache import DecodedCacheDataset
from .digits import MNIST5kHashing, MNISTHashing, USPSHashing
from .errors import DataNotFoundError
from .image_folder import ImageFolderDomain, PACSDomain
from .list_file import HashingListDataset, parse_hashing_list
from .preflight import check_data_roots
from .query_database import QueryDatabaseDataset
from .protocols import STANDARD_PROTOCOLS, per_class_protocol
from .splits import load_or_create_split, make_single_label_split
from .transfer_pair import TransferPairDataset, transfer_collate
from .transforms import PackHashInputs
from .fake_image_bank import FakeImageBank, read_manifest, write_fake_bank
from .generated_fakes import GeneratedFakeDataset, load_generator
from .real_fake_pair import RealFakeDataset, real_fake_collate

__all__ = [
    'transforms', 'Pool', 'SingleLabelHashingDataset', 'CIFAR10Hashing',
    'MNISTHashing', 'USPSHashing', 'MNIST5kHashing', 'ImageFolderDomain',
    'PACSDomain', 'HashingListDataset', 'parse_hashing_list',
    'QueryDatabaseDataset', 'STANDARD_PROTOCOLS', 'per_class_protocol',
    'load_or_create_split', 'make_single_label_split', 'PackHashInputs',
    'TransferPairDataset', 'transfer_collate', 'hash_collate',
    'CollatedSamples', 'DecodedCacheDataset', 'DataNotFoundError',
    'download_cifar10', 'check_data_roots'
]
from .semi_supervised import (  # noqa: E402,F401
    SemiSupervisedDataset, semi_supervised_collate)
