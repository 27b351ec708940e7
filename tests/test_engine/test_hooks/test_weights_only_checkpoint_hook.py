"""WeightsOnlyCheckpointHook turns the message hub into tensors on save
and back on load, wherever the loaded tensors live."""
import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub

import hashplugins  # noqa: F401
from hashplugins.engine.hooks.weights_only_checkpoint_hook import \
    WeightsOnlyCheckpointHook


class AcceleratorTensor(torch.Tensor):
    """Behaves like a tensor in device memory: numpy() is refused, as
    PyTorch refuses it for CUDA tensors, until it is copied with cpu()."""

    def numpy(self, *args, **kwargs):
        raise TypeError("can't convert cuda:0 device type tensor to numpy. "
                        'Use Tensor.cpu() to copy the tensor to host memory '
                        'first.')

    def cpu(self, *args, **kwargs):
        return self.as_subclass(torch.Tensor).clone()


def _on_accelerator(value):
    if isinstance(value, torch.Tensor):
        return value.as_subclass(AcceleratorTensor)
    if isinstance(value, dict):
        return {k: _on_accelerator(v) for k, v in value.items()}
    return value


def _saved_hub():
    hub = MessageHub('weights-only-hook-test')
    for step, value in enumerate((0.5, 0.25, 0.125)):
        hub.update_scalar('train/loss', value)
        hub.update_info('iter', step)
    hub.update_info('stats', np.arange(3, dtype=np.float64))
    checkpoint = dict(message_hub=hub.state_dict())
    WeightsOnlyCheckpointHook().before_save_checkpoint(None, checkpoint)
    return hub, checkpoint


def test_saved_hub_holds_only_tensors_and_plain_values():
    _, checkpoint = _saved_hub()
    scalar = checkpoint['message_hub']['log_scalars']['train/loss']
    assert isinstance(scalar['log_history'], torch.Tensor)
    assert not isinstance(scalar, HistoryBuffer)


@pytest.mark.parametrize('where', ['host', 'accelerator'])
def test_loaded_hub_is_restored_from_host_or_device_tensors(where):
    # On a GPU machine mmengine maps the resumed checkpoint onto CUDA
    # before after_load_checkpoint runs; numpy() then needs a cpu() first.
    hub, checkpoint = _saved_hub()
    if where == 'accelerator':
        checkpoint = _on_accelerator(checkpoint)
    WeightsOnlyCheckpointHook().after_load_checkpoint(None, checkpoint)
    buffer = checkpoint['message_hub']['log_scalars']['train/loss']
    assert isinstance(buffer, HistoryBuffer)
    expected = hub.log_scalars['train/loss']
    for got, want in zip(buffer.data, expected.data):
        np.testing.assert_array_equal(got, want)
    assert buffer.current() == 0.125
