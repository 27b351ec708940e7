"""One optimizer wrapper per sub-module, as mmagic's constructor does."""
from typing import Optional

import torch.nn as nn
from mmengine.model import is_model_wrapper
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapperDict
from mmpretrain.registry import OPTIM_WRAPPER_CONSTRUCTORS


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class MultiOptimWrapperConstructor:
    """Build an :class:`OptimWrapperDict` with a wrapper per sub-module.

    mmengine 0.10.7 ships no such constructor, so multi-optimizer models
    (GANs, DADH's two streams) need this one. Config keys are attribute
    names of the model (dotted paths allowed); each value is an ordinary
    optim-wrapper config, with its own ``paramwise_cfg`` if needed.

    Args:
        optim_wrapper_cfg (dict): ``{submodule_name: optim_wrapper_cfg}``.
        paramwise_cfg (dict, optional): Must be None: give ``paramwise_cfg``
            inside each sub-config instead.

    Examples:
        >>> optim_wrapper = dict(
        ...     constructor='MultiOptimWrapperConstructor',
        ...     generator=dict(optimizer=dict(type='Adam', lr=2e-4)),
        ...     discriminator=dict(optimizer=dict(type='Adam', lr=2e-4)))
    """

    def __init__(self,
                 optim_wrapper_cfg: dict,
                 paramwise_cfg: Optional[dict] = None):
        if paramwise_cfg is not None:
            raise ValueError(
                'MultiOptimWrapperConstructor takes paramwise_cfg inside each '
                'sub-module config (optim_wrapper.<name>.paramwise_cfg), not '
                'at the top level.')
        if not optim_wrapper_cfg:
            raise ValueError('MultiOptimWrapperConstructor needs at least one '
                             'sub-module config, e.g. optim_wrapper.generator')
        self.constructors = {}
        for name, cfg in optim_wrapper_cfg.items():
            if not isinstance(cfg, dict) or 'optimizer' not in cfg:
                raise ValueError(
                    f'optim_wrapper.{name} must be an optim wrapper config '
                    f'with an "optimizer" key, got {cfg!r}')
            cfg = dict(cfg)
            sub_paramwise = cfg.pop('paramwise_cfg', None)
            self.constructors[name] = DefaultOptimWrapperConstructor(
                cfg, sub_paramwise)

    def __call__(self, module: nn.Module) -> OptimWrapperDict:
        if is_model_wrapper(module):
            module = module.module
        wrappers = {}
        for name, constructor in self.constructors.items():
            try:
                submodule = module.get_submodule(name)
            except AttributeError as err:
                raise AttributeError(
                    f'optim_wrapper.{name}: the model '
                    f'{type(module).__name__} has no sub-module "{name}"'
                ) from err
            wrappers[name] = constructor(submodule)
        return OptimWrapperDict(**wrappers)
