"""Inference: encode images with a trained hashing model and search them.

:class:`HashEncoder` turns image files, folders, arrays or a dataset into
±1 and packed codes; :class:`~hashplugins.retrieval.BinaryIndex` keeps
them with ids and metadata, searches them (evaluation engine or faiss) and
saves them. :class:`HashRetrievalInferencer` and :func:`inference_model`
put both behind mmpretrain's inferencer conventions (``mmpretrain.apis``).
"""
from hashplugins.retrieval import BinaryIndex, IndexFileError
from .hash_encoder import EncodedImages, HashEncoder, test_pipeline_cfg
from .image_inputs import class_folder_images, list_images, read_image
from .inference import build_encoder, inference_model
from .hash_retrieval_inferencer import HashRetrievalInferencer

__all__ = [
    'HashEncoder', 'EncodedImages', 'BinaryIndex', 'IndexFileError',
    'list_images', 'class_folder_images', 'read_image', 'test_pipeline_cfg',
    'HashRetrievalInferencer', 'inference_model', 'build_encoder'
]
