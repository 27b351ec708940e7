"""mmpretrain's model conventions for our hashing models.

``mmpretrain.apis`` takes a model as a config file, a
:class:`~mmengine.config.Config`, a model name of
:class:`mmpretrain.apis.ModelHub`, or a model built by
:func:`mmpretrain.apis.get_model`, with ``pretrained`` naming the weights.
:func:`build_encoder` turns any of those (or a :class:`HashEncoder`) into a
:class:`HashEncoder`, the one encoding path of the project (test pipeline,
``model.test_step``); :func:`inference_model` is mmpretrain's
``inference_model`` shortcut for hashing: images in, codes out.

What mmpretrain's own functions do with our models (checked by
``tests/test_apis``): ``mmpretrain.apis.get_model(CONFIG, pretrained=CKPT)``
builds them (our configs import ``hashplugins``), and a name once the model
index is registered with ``ModelHub``. ``mmpretrain.apis.inference_model``
cannot serve them: it picks an inferencer from a fixed table inside the
function, keyed by the model-index task, with no registry to add to; a
model built from a config has no task (``NotImplementedError``), and the
task ``'Image Retrieval'`` selects ``ImageRetrievalInferencer``, which needs
mmpretrain's retriever interface (``prepare_prototype``, ``pred_score``
over the prototype) that hashers do not have.
"""
import copy
import os.path as osp
import warnings
from os import PathLike
from typing import Optional, Sequence, Union

import torch
from mmengine.config import Config
from mmengine.model import BaseModel

from hashplugins.engine.runner.checkpoint_fit import load_fitting_checkpoint
from .hash_encoder import EncodedImages, HashEncoder
from .image_inputs import ImageInput

ModelInput = Union[str, PathLike, Config, BaseModel, HashEncoder]

_MODEL_KINDS = ('a config file (.py), a Config, a model name registered '
                'with mmpretrain.apis.ModelHub, a model built by '
                'mmpretrain.apis.get_model, or a HashEncoder')


def _load_weights(encoder: HashEncoder, checkpoint: str, what: str) -> dict:
    """Load ``checkpoint`` into ``encoder.model``: a local file through the
    project's checkpoint-fit policy (``weights_only``; a checkpoint that
    does not fit is refused naming the keys), a URL through mmengine
    (strict). Records it as the encoder's checkpoint (index provenance)."""
    if '://' in str(checkpoint):
        from mmengine.runner import load_checkpoint
        loaded = load_checkpoint(
            encoder.model, checkpoint, map_location='cpu', strict=True)
    else:
        loaded = load_fitting_checkpoint(
            encoder.model,
            str(checkpoint),
            fix=f'Give the config the checkpoint was trained with (not '
            f'{what}), or a checkpoint trained with this config.')
    encoder.checkpoint = str(checkpoint)
    return loaded if isinstance(loaded, dict) else {}


def _resolve_config(model, pretrained):
    """``(config, checkpoint or None, ModelHub metainfo or None)``."""
    metainfo = None
    if isinstance(model, Config):
        cfg = copy.deepcopy(model)
        default = cfg.get('load_from')
    elif isinstance(model, (str, PathLike)) and str(model).endswith('.py'):
        if not osp.isfile(model):
            raise FileNotFoundError(f'config file {model} does not exist')
        cfg = Config.fromfile(str(model))
        default = cfg.get('load_from')
    elif isinstance(model, str):
        from mmpretrain.apis import ModelHub
        try:
            metainfo = ModelHub.get(model)
        except ValueError as err:
            raise ValueError(
                f'{model!r} is not a config file (.py) and not a model name '
                f'known to mmpretrain.apis.ModelHub ({err}). Give the '
                'config path, or register the model index first: '
                'ModelHub.register_model_index("model-index.yml", '
                'config_prefix=REPO_ROOT).') from err
        cfg = copy.deepcopy(metainfo.config)
        default = metainfo.weights
    else:
        raise TypeError(f'model must be {_MODEL_KINDS}; got '
                        f'{type(model).__name__}')
    if pretrained is True:
        checkpoint = default
        if not checkpoint:
            warnings.warn(
                f'no checkpoint for {model}: pretrained=True, but the '
                f'{"model index" if metainfo else "config (load_from)"} '
                'names none, so the model keeps its initial weights and its '
                'codes mean nothing. Give pretrained=CHECKPOINT.')
    elif pretrained in (False, None):
        checkpoint = None
    elif isinstance(pretrained, (str, PathLike)):
        checkpoint = str(pretrained)
    else:
        raise TypeError(f'pretrained must be a checkpoint path, True or '
                        f'False; got {pretrained!r}')
    return cfg, checkpoint or None, metainfo


def build_encoder(model: ModelInput,
                  pretrained: Union[bool, str, None] = True,
                  device: Optional[str] = None,
                  cfg_options: Optional[dict] = None) -> HashEncoder:
    """A :class:`HashEncoder` from a model given as ``mmpretrain.apis``
    takes it.

    Args:
        model: A config file (``.py``), a :class:`Config`, a model name
            registered with :class:`mmpretrain.apis.ModelHub` (its config
            and, with ``pretrained=True``, its ``Weights``), a model built
            by :func:`mmpretrain.apis.get_model` (it records its config as
            ``model._config``), or a :class:`HashEncoder` (used as is).
        pretrained: A checkpoint (path or URL); ``True``: the model index's
            weights of a name, a config's ``load_from`` (a warning when
            there is none); ``False``/``None``: no checkpoint (a model
            object keeps its weights).
        device: ``'cpu'``, ``'cuda'``, ... Default: a model object's own
            device; else CUDA when available.
        cfg_options: Overrides merged into the config (not for a model
            object, whose config is fixed).

    Raises:
        TypeError: ``model`` of another kind, or a model object without
            its config.
        ValueError: A name that ``ModelHub`` does not know.
        FileNotFoundError: A config file that does not exist.
        CheckpointMismatchError: A checkpoint that does not fit the model.
    """
    import hashplugins  # noqa: F401  (registers our components)
    if isinstance(model, HashEncoder):
        if cfg_options:
            raise ValueError('cfg_options cannot change a HashEncoder that '
                             'is already built')
        if isinstance(pretrained, (str, PathLike)):
            _load_weights(model, pretrained, model.cfg.filename)
        if device is not None:
            model.model.to(device)
            model.device = torch.device(device)
        _record_model_meta(model, None, {})
        return model
    if isinstance(model, BaseModel):
        return _encoder_of_model(model, pretrained, device, cfg_options)
    cfg, checkpoint, metainfo = _resolve_config(model, pretrained)
    encoder = HashEncoder(cfg, None, device=device, cfg_options=cfg_options)
    loaded = {} if checkpoint is None else _load_weights(
        encoder, checkpoint, str(model))
    _record_model_meta(encoder, metainfo, loaded.get('meta', {}))
    return encoder


def _encoder_of_model(model: BaseModel, pretrained, device,
                      cfg_options) -> HashEncoder:
    """A :class:`HashEncoder` around an already built model: the encoder is
    built from the config the model records (``get_model`` sets
    ``model._config``), then holds ``model`` itself (the encoder's own copy,
    built once, is dropped)."""
    cfg = getattr(model, '_config', None)
    if not isinstance(cfg, Config):
        raise TypeError(
            f'a {type(model).__name__} object carries no config '
            '(model._config): build it with mmpretrain.apis.get_model('
            'CONFIG, pretrained=CHECKPOINT), which records it, or give the '
            'config path and pretrained=CHECKPOINT instead of the model')
    if cfg_options:
        raise ValueError('cfg_options cannot change a model that is already '
                         'built; give the config path instead')
    if device is None:
        param = next(model.parameters(), None)
        device = str(param.device) if param is not None else 'cpu'
    cfg = copy.deepcopy(cfg)
    if cfg.model.get('data_preprocessor') == cfg.get('data_preprocessor'):
        # get_model copied the top-level preprocessor into the model config
        # (as HashEncoder does on its own copy): undone, so the config hash
        # of an index equals that of the config file itself.
        cfg.model.pop('data_preprocessor', None)
    encoder = HashEncoder(cfg, None, device=device)
    encoder.model = model.to(device).eval()
    encoder.num_bits = getattr(model, 'num_bits', None)
    if isinstance(pretrained, (str, PathLike)):
        _load_weights(encoder, pretrained, cfg.filename)
    _record_model_meta(encoder, None, {})
    return encoder


def _record_model_meta(encoder: HashEncoder, metainfo, ckpt_meta) -> None:
    """What ``mmpretrain.apis.get_model`` records on a model (its config,
    model-index entry and dataset meta), which ``BaseInferencer`` reads."""
    model = encoder.model
    if getattr(model, '_config', None) is None:
        model._config = encoder.cfg
    if metainfo is not None or not hasattr(model, '_metainfo'):
        model._metainfo = metainfo
    if not hasattr(model, '_dataset_meta'):
        meta = ckpt_meta.get('dataset_meta') if isinstance(ckpt_meta,
                                                           dict) else None
        model._dataset_meta = dict(meta or {})


def inference_model(model: ModelInput,
                    images: Union[ImageInput, Sequence[ImageInput]],
                    pretrained: Union[bool, str, None] = True,
                    device: Optional[str] = None,
                    batch_size: int = 32,
                    split: str = 'query',
                    progress: bool = False) -> EncodedImages:
    """Encode images with a hashing model: mmpretrain's ``inference_model``
    shortcut for hashing (``mmpretrain.apis.inference_model`` itself cannot
    dispatch to hashers; see the module docstring).

    Args:
        model: As :func:`build_encoder` takes it: a model built by
            :func:`mmpretrain.apis.get_model`, a config path, a ModelHub
            name, a :class:`HashEncoder`, ...
        images: A path (file or folder, recursively), an array, or a list
            of them (see :meth:`HashEncoder.__call__`).
        pretrained: Checkpoint for a config or a name (see
            :func:`build_encoder`).
        device: Device of the model.
        batch_size: Images per forward pass.
        split: ``'query'`` or ``'database'``: which code asymmetric models
            (DADH) produce.
        progress: Show a progress bar.

    Returns:
        :class:`EncodedImages` of the images in input order: ``codes``
        (``(n, B)`` ±1 ``int8``), ``packed``, ``ids``, ``paths``.

    Example:
        >>> from mmpretrain.apis import get_model
        >>> from hashplugins.apis import inference_model
        >>> model = get_model('configs/dpsh/dpsh_lenet5_mnist5k_16bit.py',
        ...                   pretrained='epoch_10.pth')
        >>> inference_model(model, 'digit.png').codes    # (1, 16) ±1
    """
    encoder = build_encoder(model, pretrained, device)
    return encoder(
        images, batch_size=batch_size, split=split, progress=progress)
