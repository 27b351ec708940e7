"""Inference: encode images with a trained hashing model and search them.

:class:`HashEncoder` turns image files, folders, arrays or a dataset into
±1 and packed codes; :class:`~hashplugins.retrieval.BinaryIndex` keeps
them with ids and metadata, searches them (evaluation engine or faiss) and
saves them.
"""
from hashplugins.retrieval import BinaryIndex, IndexFileError
from .hash_encoder import EncodedImages, HashEncoder, test_pipeline_cfg
from .image_inputs import class_folder_images, list_images, read_image

__all__ = [
    'HashEncoder', 'EncodedImages', 'BinaryIndex', 'IndexFileError',
    'list_images', 'class_folder_images', 'read_image', 'test_pipeline_cfg'
]
