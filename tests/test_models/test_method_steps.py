"""Every method's shipped CPU config, on every device present
(``pytest -m gpu``): two training steps give finite losses and move the
weights; predict gives ±1 codes on the device; and a training step reads
nothing back from the device per sample (counted calls of ``.item()``,
``.cpu()``, ``bool(tensor)``, ... made by hashplugins' code)."""
import pytest
import torch
from mmengine.logging import MessageHub

from host_sync_helpers import count_host_syncs
from method_steps import METHODS, build_method, method_batch, predict_batch

# Host-side input checks a step may make on the CPU; on an accelerator
# they are device-side assertions (hashplugins.models.utils.check_true).
MAX_CPU_CHECKS = 6


def _step(model, wrapper, batch, it):
    MessageHub.get_current_instance().update_info('iter', it)
    if hasattr(model, 'set_train_progress'):
        model.set_train_progress(0, it)
    return model.train_step(batch, wrapper)


@pytest.mark.parametrize('method', sorted(METHODS))
def test_train_steps_and_predict(method, device):
    model, wrapper = build_method(method, device)
    before = [p.detach().clone() for p in model.parameters()]
    for it in range(2):
        log_vars = _step(model, wrapper, method_batch(method, 4, seed=it),
                         it)
        for key, value in log_vars.items():
            assert torch.isfinite(value).all(), (key, value)
    moved = [not torch.equal(a, p.detach())
             for a, p in zip(before, model.parameters())]
    assert any(moved)
    if method == 'ganreg-stage1':  # a GAN: it samples, it does not code
        images = model.sample(4)
        assert images.device.type == device.type
        assert images.shape[0] == 4
        return
    channels = METHODS[method][1]
    model.eval()
    with torch.no_grad():
        out = model.val_step(predict_batch(6, channels))
    codes = torch.stack([s.hash_code for s in out])
    assert codes.device.type == device.type
    assert set(codes.unique().tolist()) <= {-1., 1.}


@pytest.mark.parametrize('method', sorted(METHODS))
def test_train_step_reads_nothing_back_per_sample(method, device,
                                                  monkeypatch):
    model, wrapper = build_method(method, device)
    _step(model, wrapper, method_batch(method, 4), 0)  # lazy set-up
    counts = {}
    for num in (4, 12):
        batch = method_batch(method, num, seed=1)
        with count_host_syncs(monkeypatch) as calls:
            _step(model, wrapper, batch, 1)
        counts[num] = dict(calls)
    assert counts[4] == counts[12], counts
    limit = MAX_CPU_CHECKS if device.type == 'cpu' else 0
    assert sum(counts[12].values()) <= limit, counts[12]


@pytest.mark.parametrize('method', sorted(METHODS))
def test_train_steps_under_amp_stay_finite(method, device):
    """``--amp`` as tools/train.py sets it up: float16 AmpOptimWrapper on
    CUDA, bfloat16 autocast on CPU: every method's steps run and stay
    finite (the saturated-code case that sent ganreg's max-entropy loss to
    inf is tests/test_models/test_losses_amp.py's)."""
    if device.type == 'cpu' and torch.cuda.is_available():
        pytest.skip('--amp picks the CUDA wrapper on this machine; the CPU '
                    'path runs on machines without CUDA')
    model, wrapper = build_method(method, device, amp='auto')
    for it in range(2):
        log_vars = _step(model, wrapper, method_batch(method, 4, seed=it),
                         it)
        for key, value in log_vars.items():
            assert torch.isfinite(value).all(), (key, value)
