"""Keep mmengine checkpoints loadable with torch.load(weights_only=True)."""
import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.logging import HistoryBuffer
from mmpretrain.registry import HOOKS

_BUFFER_TAG = '__history_buffer__'


def _to_plain(value):
    """Turn message-hub values into tensors and plain Python values."""
    if isinstance(value, HistoryBuffer):
        log, count = value.data
        return {
            _BUFFER_TAG: True,
            'log_history': torch.from_numpy(np.ascontiguousarray(log)),
            'count_history': torch.from_numpy(np.ascontiguousarray(count)),
            'max_length': int(value.max_length),
        }
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {k: _to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_plain(v) for v in value)
    return value


def _host_array(tensor: torch.Tensor) -> np.ndarray:
    # mmengine maps a resumed checkpoint onto the run's device (CUDA on a
    # GPU machine) before this hook runs; numpy needs host memory.
    return tensor.detach().cpu().numpy()


def _from_plain(value):
    if isinstance(value, dict):
        if value.get(_BUFFER_TAG):
            return HistoryBuffer(_host_array(value['log_history']),
                                 _host_array(value['count_history']),
                                 value['max_length'])
        return {k: _from_plain(v) for k, v in value.items()}
    return value


@HOOKS.register_module()
class WeightsOnlyCheckpointHook(Hook):
    """Store the message hub as tensors and plain values in checkpoints.

    mmengine pickles ``HistoryBuffer`` objects (and may pickle numpy values)
    into the ``message_hub`` entry of a checkpoint; loading those requires a
    full unpickle. This hook converts them to tensors before saving and back
    after loading, so our checkpoint loader can always use
    ``weights_only=True`` (see :mod:`hashplugins.engine.runner.checkpoint`).
    It is enabled in ``configs/_base_/default_runtime.py``.
    """

    priority = 'VERY_LOW'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if 'message_hub' in checkpoint:
            checkpoint['message_hub'] = _to_plain(checkpoint['message_hub'])

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if 'message_hub' in checkpoint:
            checkpoint['message_hub'] = _from_plain(checkpoint['message_hub'])
