"""One-call GPU benchmark suite: every GPU number of the project in one run.

Parts (each independent: a part that fails records its error and the others
still run; the exit code is non-zero if any part failed):

a. ``dpsh_train``: training images/s of DPSH, ResNet-50 at 224 px (random
   init), batch 64, ``configs/dpsh/dpsh_r50_cifar10_48bit.py``'s model:
   the Runner's path (``model.train_step`` with the config's OptimWrapper,
   fp32, and with ``AmpOptimWrapper`` as ``--amp bfloat16`` configures it)
   against a plain PyTorch loop on the same model and the same batch already
   on the device (``data_preprocessor`` once, then ``model(..., mode='loss')``
   -> sum -> ``zero_grad`` / ``backward`` / ``torch.optim.SGD.step``; fp32,
   and under ``torch.autocast(bfloat16)`` as the AMP reference).
b. ``metric_backend``: ``hamming_retrieval_metrics`` at ImageNet-100 scale
   (5,000 x 128,495, 64 bits, 100 classes; mAP@1000 + P@H<=2 + PR; the
   problem of ``benchmarks/eval_speed.py``), torch backend on the device vs
   the numpy backend on the host; the numbers must be identical (recorded,
   then asserted).
c. ``dadh_run``: 200 iterations of ``configs/dadh/dadh_r50_cifar10_48bit.py``
   (random init) through the real ``Runner``, 50 iterations per epoch so that
   ``DADHCodeUpdateHook`` runs B-steps (after epochs 2 and 4); s/iter and
   ``torch.cuda.max_memory_allocated``. CIFAR-10 from the shared data
   (``$HASHPLUGINS_DATA`` or ``../shared/data``), else random 32 px images
   (said so in the results).
d. ``gan_steps``: iterations/s of ``model.train_step`` with the
   OptimWrapperDict of ``configs/dsh_gans/dsh-gans_r50_cifar10-500pc_12bit.py``
   (GAN pre-training stage and joint stage) and
   ``configs/ganreg/dcgan_cifar10-500pc_32px_stage1.py``, on synthetic
   batches in their collate layout (64 labelled + 64 unlabelled / 64).

Timing: warm-up first; ``torch.cuda.synchronize()`` around every timed
region; the compared variants are interleaved (A, B, C, A, B, C, ...), each
repeat a block of steps, and the result is the median over repeats; ratios
are against a reference measured in the same run. Every part has a time
budget: it stops repeating once the budget is spent and reports how many
repeats it ran. The full run is sized for ~6 minutes on one H200.

Writes ``<out-dir>/<part>.json`` for each part, and
``<out-dir>/gpu_suite.json`` and ``<out-dir>/gpu_suite.md`` (device,
versions, every number); ``--out-dir`` defaults to ``benchmarks/results/gpu``.

Usage:
    python benchmarks/gpu_suite.py                   # on a CUDA machine
    python benchmarks/gpu_suite.py --parts a c       # some parts only
    python benchmarks/gpu_suite.py --smoke --out-dir /tmp/smoke   # CPU, tiny
"""
import argparse
import copy
import json
import math
import os
import os.path as osp
import platform
import statistics
import sys
import tempfile
import time
import traceback

HERE = osp.dirname(osp.abspath(__file__))
REPO = osp.dirname(HERE)
for _path in (HERE, osp.join(REPO, 'tests'), REPO):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import numpy as np  # noqa: E402
import torch  # noqa: E402

DEFAULT_OUT = osp.join(REPO, 'benchmarks', 'results', 'gpu')
SHARED = os.environ.get('HASHPLUGINS_DATA',
                        osp.join(REPO, '..', 'shared', 'data'))

# The small network of --smoke (the CPU configs' ResNet-18-CIFAR, width 16).
SMOKE_BACKBONE = dict(type='ResNet_CIFAR', depth=18, stem_channels=16,
                      base_channels=16, out_indices=(3, ))
SMOKE_FEATURES = 128

# Sizes: full (one H200, ~6 min in all) and --smoke (CPU, seconds).
SIZES = {
    'full': dict(
        a=dict(batch=64, size=224, steps=10, warmup=3, repeats=30,
               budget_s=75),
        b=dict(scale=1.0, num_query=None, num_db=None, warmup=1, repeats=5,
               budget_s=60),
        c=dict(iters_per_epoch=50, epochs=4, batch=64, warmup=5,
               budget_s=150),
        d=dict(batch=64, steps=10, warmup=3, repeats=20, budget_s=60),
    ),
    'smoke': dict(
        a=dict(batch=4, size=32, steps=1, warmup=1, repeats=2, budget_s=20),
        b=dict(scale=0.04, num_query=200, num_db=1000, warmup=1, repeats=2,
               budget_s=10),
        c=dict(iters_per_epoch=2, epochs=2, batch=4, warmup=1, budget_s=30),
        d=dict(batch=4, steps=1, warmup=1, repeats=2, budget_s=20),
    ),
}


# ----------------------------------------------------------------------------
# Helpers
def device_info(device: torch.device) -> dict:
    import mmengine
    import mmpretrain
    from bench_utils import cpu_name
    cuda = device.type == 'cuda'
    info = dict(
        device=(torch.cuda.get_device_name(device) if cuda else
                f'CPU only: {cpu_name()}'),
        device_type=device.type,
        cuda=torch.version.cuda,
        cudnn=(torch.backends.cudnn.version() if cuda else None),
        torch=torch.__version__,
        mmengine=mmengine.__version__,
        mmpretrain=mmpretrain.__version__,
        python=platform.python_version(),
        cpu=cpu_name(),
        cpu_count=os.cpu_count(),
        torch_threads=torch.get_num_threads())
    if cuda:
        props = torch.cuda.get_device_properties(device)
        info.update(gpu_memory_gib=props.total_memory / 2**30,
                    gpu_capability=f'{props.major}.{props.minor}',
                    bf16_supported=torch.cuda.is_bf16_supported())
    return info


def make_sync(device: torch.device):
    if device.type == 'cuda':
        return lambda: torch.cuda.synchronize(device)
    return lambda: None


def interleaved(fns: dict, sync, steps: int, warmup: int, repeats: int,
                budget_s: float) -> dict:
    """Time ``fns`` (name -> one step) interleaved: each repeat runs every
    variant for ``steps`` steps between synchronizations. Returns seconds
    per step of every repeat, the repeats run and whether the budget cut
    them short."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    sync()
    times = {name: [] for name in fns}
    start, done = time.perf_counter(), 0
    for _ in range(repeats):
        for name, fn in fns.items():
            sync()
            t0 = time.perf_counter()
            for _ in range(steps):
                fn()
            sync()
            times[name].append((time.perf_counter() - t0) / steps)
        done += 1
        if time.perf_counter() - start > budget_s:
            break
    return dict(seconds=times, repeats_run=done, repeats_asked=repeats,
                stopped_by_budget=done < repeats, budget_s=budget_s,
                steps_per_repeat=steps, warmup_steps=warmup)


def median(values):
    return statistics.median(values)


def build_model(model_cfg, device):
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS
    import hashplugins  # noqa: F401
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(copy.deepcopy(model_cfg))
        model.init_weights()
    return model.to(device)


def build_wrapper(model, optim_cfg):
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return build_optim_wrapper(model, copy.deepcopy(optim_cfg))


def load_config(rel_path: str):
    from mmengine.config import Config
    from config_helpers import drop_pretrained
    cfg = Config.fromfile(osp.join(REPO, rel_path))
    # on the model dict: drop_pretrained walks dicts, and a Config is not one
    drop_pretrained(cfg.model)
    return cfg


def image_batch(num: int, size: int, device, seed: int = 0,
                num_classes: int = 10) -> dict:
    """A collated batch of ``num`` uint8 images (stacked, on ``device``)
    with class labels, as ``default_collate`` + PackHashInputs give it."""
    from mmpretrain.structures import DataSample
    g = torch.Generator().manual_seed(seed)
    inputs = torch.randint(0, 256, (num, 3, size, size), generator=g,
                           dtype=torch.uint8).to(device)
    samples = [DataSample(metainfo=dict(sample_idx=i)).set_gt_label(
        i % num_classes) for i in range(num)]
    return dict(inputs=inputs, data_samples=samples)


def batch_to(batch: dict, device) -> dict:
    """``method_batch``'s list of images stacked onto ``device``."""
    return dict(inputs=torch.stack(batch['inputs']).to(device),
                data_samples=batch['data_samples'])


# ----------------------------------------------------------------------------
# (a) DPSH training throughput: Runner path vs plain loop
def part_a(device, size, smoke):
    from hashplugins.engine.runner.launch import enable_amp
    sync = make_sync(device)
    cfg = load_config('configs/dpsh/dpsh_r50_cifar10_48bit.py')
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.data_preprocessor = copy.deepcopy(cfg.data_preprocessor)
    if smoke:
        model_cfg.backbone = copy.deepcopy(SMOKE_BACKBONE)
        model_cfg.head.in_channels = SMOKE_FEATURES
    amp_cfg = copy.deepcopy(cfg)
    enable_amp(amp_cfg, 'bfloat16')
    batch = image_batch(size['batch'], size['size'], device)
    amp_dtype = torch.bfloat16

    variants, models = {}, {}
    for name in ('runner_fp32', 'runner_amp_bf16', 'plain_fp32',
                 'plain_autocast_bf16'):
        model = build_model(model_cfg, device)
        model.train()
        models[name] = model
        if name.startswith('runner'):
            wrapper = build_wrapper(
                model, amp_cfg.optim_wrapper if 'amp' in name
                else cfg.optim_wrapper)

            def step(model=model, wrapper=wrapper):
                model.train_step(batch, wrapper)
        else:
            opt = cfg.optim_wrapper.optimizer
            optimizer = torch.optim.SGD(
                model.parameters(), lr=opt.lr, momentum=opt.momentum,
                weight_decay=opt.weight_decay)
            data = model.data_preprocessor(batch, True)  # once, on device
            autocast = 'autocast' in name

            def step(model=model, optimizer=optimizer, data=data,
                     autocast=autocast):
                with torch.autocast(device.type, dtype=amp_dtype,
                                    enabled=autocast):
                    losses = model(**data, mode='loss')
                loss = sum(v for v in losses.values())
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
        variants[name] = step
        variants[name]()  # build lazily created state before warm-up

    timing = interleaved(variants, sync, size['steps'], size['warmup'],
                         size['repeats'], size['budget_s'])
    n = size['batch']
    per_step = {k: median(v) for k, v in timing['seconds'].items()}
    img_s = {k: n / v for k, v in per_step.items()}
    return dict(
        config='configs/dpsh/dpsh_r50_cifar10_48bit.py',
        backbone=('ResNet-18-CIFAR w16 (smoke)' if smoke else
                  'ResNet-50, random init'),
        batch=n, image_size=size['size'],
        amp_wrapper=amp_cfg.optim_wrapper.get('type'),
        amp_dtype='bfloat16',
        median_s_per_iter=per_step,
        images_per_s=img_s,
        ratio_runner_over_plain_fp32=img_s['runner_fp32'] /
        img_s['plain_fp32'],
        ratio_runner_amp_over_plain_autocast=img_s['runner_amp_bf16'] /
        img_s['plain_autocast_bf16'],
        speedup_amp_over_fp32_runner=img_s['runner_amp_bf16'] /
        img_s['runner_fp32'],
        timing=timing)


# ----------------------------------------------------------------------------
# (b) torch metric backend on the device vs numpy on the host
def _make_problem(size):
    saved = {k: os.environ.get(k) for k in
             ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS')}
    try:
        import eval_speed  # sets the thread variables at import
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    data = eval_speed.make_data('imagenet100', size['scale'])
    if size['num_query']:
        data['q_codes'] = data['q_codes'][:size['num_query']]
        data['q_labels'] = data['q_labels'][:size['num_query']]
    if size['num_db']:
        data['db_codes'] = data['db_codes'][:size['num_db']]
        data['db_labels'] = data['db_labels'][:size['num_db']]
    return data, eval_speed.engine_kwargs('imagenet100')


def _flatten(result: dict) -> dict:
    flat = {}
    for k, v in result.items():
        if isinstance(v, dict):
            for kk, vv in v.items():
                flat[f'{k}.{kk}'] = np.asarray(vv)
        else:
            flat[k] = np.asarray(v)
    return flat


def part_b(device, size, smoke):
    from hashplugins.evaluation.functional import hamming_retrieval_metrics
    sync = make_sync(device)
    data, kwargs = _make_problem(size)
    args = (data['q_codes'], data['db_codes'], data['q_labels'],
            data['db_labels'])
    results = {}

    def run(backend, dev):
        def fn():
            results[backend] = hamming_retrieval_metrics(
                *args, backend=backend, device=dev, **kwargs)
        return fn

    fns = {'numpy_host': run('numpy', None),
           'torch_device': run('torch', str(device))}
    timing = interleaved(fns, sync, 1, size['warmup'], size['repeats'],
                         size['budget_s'])
    a, b = _flatten(results['numpy']), _flatten(results['torch'])
    same_keys = sorted(a) == sorted(b)
    identical = same_keys and all(
        a[k].shape == b[k].shape and np.array_equal(a[k], b[k]) for k in a)
    diff = max((float(np.max(np.abs(a[k] - b[k]))) for k in a
                if k in b and a[k].shape == b[k].shape and a[k].size),
               default=float('nan'))
    secs = {k: median(v) for k, v in timing['seconds'].items()}
    out = dict(
        problem=dict(num_query=len(data['q_codes']),
                     num_db=len(data['db_codes']), bits=64, classes=100,
                     metrics=list(kwargs['metrics']), topk=kwargs['topk'],
                     radius=kwargs['radius'],
                     source='benchmarks/eval_speed.py make_data('
                     f"'imagenet100', scale={size['scale']})"),
        torch_device=str(device),
        median_s=secs,
        speedup_torch_device_over_numpy=secs['numpy_host'] /
        secs['torch_device'],
        identical=bool(identical),
        max_abs_diff=diff,
        scalars={k: float(v) for k, v in results['numpy'].items()
                 if not isinstance(v, dict)},
        timing=timing)
    if not identical:
        raise AssertionError(
            f'torch ({device}) and numpy backends differ (max abs diff '
            f'{diff}); numbers: ' + json.dumps(out, default=str))
    return out


# ----------------------------------------------------------------------------
# (c) DADH: a real Runner run with B-steps
def _register_random_dataset():
    from mmengine.dataset import BaseDataset
    from mmpretrain.registry import DATASETS

    @DATASETS.register_module(name='GPUSuiteRandomImages', force=True)
    class GPUSuiteRandomImages(BaseDataset):
        """``num`` random 32x32 RGB uint8 images, labels ``i % classes``."""

        def __init__(self, num, num_classes=10, size=32, seed=0, **kwargs):
            self.num, self.num_classes = num, num_classes
            self.size, self.seed = size, seed
            super().__init__(serialize_data=False, **kwargs)

        def load_data_list(self):
            rng = np.random.default_rng(self.seed)
            return [dict(img=rng.integers(0, 256, (self.size, self.size, 3),
                                          dtype=np.uint8),
                         img_shape=(self.size, self.size),
                         ori_shape=(self.size, self.size),
                         gt_label=i % self.num_classes)
                    for i in range(self.num)]


class _Probe:
    """Hook that times each iteration (synchronized) and, once the budget
    is spent, stops the run at the end of the epoch."""

    def __new__(cls, sync, budget_s):
        from mmengine.hooks import Hook

        class Probe(Hook):
            priority = 'HIGHEST'

            def __init__(self):
                self.iter_s, self._t = [], None
                self.start, self.stopped_by_budget = None, False

            def before_train(self, runner):
                self.start = time.perf_counter()

            def after_train_epoch(self, runner):
                if (time.perf_counter() - self.start > budget_s
                        and runner.epoch + 1 < runner.max_epochs):
                    runner.train_loop.stop_training = True
                    self.stopped_by_budget = True

            def before_train_iter(self, runner, batch_idx, data_batch=None):
                sync()
                self._t = time.perf_counter()

            def after_train_iter(self, runner, batch_idx, data_batch=None,
                                 outputs=None):
                sync()
                self.iter_s.append(time.perf_counter() - self._t)

        return Probe()


def part_c(device, size, smoke, force_synthetic=False):
    from mmengine.runner import Runner
    from config_helpers import point_to_shared
    sync = make_sync(device)
    cfg = load_config('configs/dadh/dadh_r50_cifar10_48bit.py')
    if smoke:
        for stream in ('stream_f', 'stream_g'):
            cfg.model[stream].backbone = copy.deepcopy(SMOKE_BACKBONE)
            cfg.model[stream].head.in_channels = SMOKE_FEATURES
    iters = size['iters_per_epoch'] * size['epochs']
    num_train = size['iters_per_epoch'] * size['batch']
    train = cfg.train_dataloader
    shared = osp.abspath(SHARED)
    real = (not force_synthetic and osp.isdir(shared)
            and point_to_shared(train.dataset, shared)
            and osp.exists(train.dataset.data_root))
    pipeline = [t for t in train.dataset.pipeline
                if t['type'] != 'LoadImageFromFile']
    if smoke:  # 32 px
        pipeline = [t for t in pipeline if t['type'] != 'Resize']
    if real:
        train.dataset.pipeline = ([dict(type='LoadImageFromFile')] +
                                  pipeline)
        train.dataset.indices = num_train
        data_note = (f'CIFAR-10 from {train.dataset.data_root} (protocol '
                     f'(a) training split, first {num_train} images)')
    else:
        _register_random_dataset()
        train.dataset = dict(type='GPUSuiteRandomImages', num=num_train,
                             num_classes=10, pipeline=pipeline)
        data_note = (f'synthetic: {num_train} random 32x32 RGB images '
                     '(shared CIFAR-10 data ' +
                     ('not used: --synthetic-data)' if force_synthetic else
                      f'absent at {shared})'))
    workers = 0 if smoke else min(8, os.cpu_count() or 1)
    train.update(batch_size=size['batch'], num_workers=workers,
                 persistent_workers=workers > 0,
                 sampler=dict(type='DefaultSampler', shuffle=True))
    if workers:
        train.pin_memory = True
    cfg.train_cfg = dict(by_epoch=True, max_epochs=size['epochs'],
                         val_interval=10**9)
    for key in ('val_dataloader', 'val_evaluator', 'val_cfg',
                'test_dataloader', 'test_evaluator', 'test_cfg'):
        cfg[key] = None
    cfg.param_scheduler = None
    cfg.custom_hooks = [h for h in cfg.custom_hooks
                        if h['type'] == 'DADHCodeUpdateHook']
    hook_cfg = cfg.custom_hooks[0]
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook',
                                        interval=10**9, by_epoch=True,
                                        save_last=False)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=50)
    cfg.log_level = 'WARNING'
    cfg.randomness = dict(seed=0)
    if device.type != 'cuda':
        cfg.env_cfg = dict(cudnn_benchmark=False)
    with tempfile.TemporaryDirectory() as work_dir:
        cfg.work_dir = work_dir
        cfg.experiment_name = 'gpu_suite_dadh'
        runner = Runner.from_cfg(cfg)
        probe = _Probe(sync, size['budget_s'])
        runner.register_hook(probe)
        model = runner.model
        bsteps = []
        update_codes = model.update_codes

        def timed_update(*a, **k):
            sync()
            t0 = time.perf_counter()
            stats = update_codes(*a, **k)
            sync()
            bsteps.append(dict(seconds=time.perf_counter() - t0,
                               changed_bits=float(stats['changed_bits']),
                               objective_before=float(
                                   stats['objective_before']),
                               objective_after=float(
                                   stats['objective_after'])))
            return stats

        model.update_codes = timed_update
        if device.type == 'cuda':
            torch.cuda.reset_peak_memory_stats(device)
        sync()
        t0 = time.perf_counter()
        runner.train()
        sync()
        wall = time.perf_counter() - t0
        ran = len(probe.iter_s)
        del runner, model  # ends persistent data workers before cleanup
    if ran != iters and not probe.stopped_by_budget:
        raise RuntimeError(f'DADH run: {ran} iterations, expected {iters}')
    if not bsteps:
        raise RuntimeError('DADH run: no B-step ran')
    steady = probe.iter_s[size['warmup']:] or probe.iter_s
    return dict(
        config='configs/dadh/dadh_r50_cifar10_48bit.py',
        backbone=('two ResNet-18-CIFAR w16 streams (smoke)' if smoke else
                  'two ResNet-50 streams, random init'),
        data=data_note, synthetic_data=not real,
        iterations=ran, iterations_asked=iters, epochs=size['epochs'],
        batch=size['batch'], budget_s=size['budget_s'],
        stopped_by_budget=probe.stopped_by_budget,
        num_workers=workers,
        code_update_hook=dict(hook_cfg),
        b_steps=bsteps,
        median_s_per_iter=median(steady),
        mean_s_per_iter_after_warmup=statistics.fmean(steady),
        wall_s_per_iter=wall / ran,
        wall_s=wall,
        warmup_iters_excluded=size['warmup'],
        max_memory_allocated_mib=(
            torch.cuda.max_memory_allocated(device) / 2**20
            if device.type == 'cuda' else None),
        note='median_s_per_iter: train_step only (synchronized, data '
        'loading excluded); wall_s_per_iter: runner.train() wall time over '
        'the iterations (data loading, hooks, B-steps, start-up included)')


# ----------------------------------------------------------------------------
# (d) GAN train_step throughput
GAN_CASES = {
    'dsh_gans': dict(
        config='configs/dsh_gans/dsh-gans_r50_cifar10-500pc_12bit.py',
        smoke_config=('configs/dsh_gans/dsh-gans_r18s_cifar10-500pc_32px_'
                      '12bit_cpu.py'),
        method='dsh-gans'),
    'ganreg_stage1': dict(
        config='configs/ganreg/dcgan_cifar10-500pc_32px_stage1.py',
        smoke_config='configs/ganreg/dcgan-s_cifar10-100pc_32px_stage1_cpu.py',
        method='ganreg-stage1'),
}


def part_d(device, size, smoke):
    from mmengine.logging import MessageHub
    from method_steps import method_batch
    sync = make_sync(device)
    hub = MessageHub.get_current_instance()
    fns, info = {}, {}
    for name, case in GAN_CASES.items():
        rel = case['smoke_config'] if smoke else case['config']
        cfg = load_config(rel)
        model = build_model(cfg.model, device)
        model.train()
        wrapper = build_wrapper(model, cfg.optim_wrapper)
        batch = batch_to(method_batch(case['method'], size['batch']), device)
        labelled = size['batch']
        total = len(batch['data_samples'])
        pretrain = int(getattr(model, 'pretrain_iters', 0) or 0)
        stages = {'': 0}
        if pretrain:  # DSH-GANs: GAN pre-training, then the joint stage
            stages = {'_pretrain': 0, '_joint': pretrain}
        for suffix, first_iter in stages.items():
            counter = [first_iter]

            def step(model=model, wrapper=wrapper, batch=batch,
                     counter=counter, first=first_iter, pretrain=pretrain):
                hub.update_info('iter', counter[0])
                model.train_step(batch, wrapper)
                counter[0] += 1
                if pretrain and first == 0 and counter[0] >= pretrain:
                    counter[0] = 0  # stay in the pre-training stage

            fns[name + suffix] = step
            info[name + suffix] = dict(
                config=rel, labelled_images=labelled,
                images_per_batch=total, first_iter=first_iter,
                disc_steps=getattr(model, 'disc_steps', None),
                gen_steps=getattr(model, 'gen_steps', None))
    timing = interleaved(fns, sync, size['steps'], size['warmup'],
                         size['repeats'], size['budget_s'])
    hub.update_info('iter', 0)
    per_step = {k: median(v) for k, v in timing['seconds'].items()}
    for k in info:
        info[k].update(median_s_per_iter=per_step[k],
                       iters_per_s=1 / per_step[k],
                       images_per_s=info[k]['images_per_batch'] /
                       per_step[k])
    return dict(cases=info, timing=timing,
                note='one iteration = one model.train_step (its D / G / '
                'hasher updates) on a synthetic uint8 32x32 batch already '
                'on the device, in the layout of the config\'s collate')


# ----------------------------------------------------------------------------
PARTS = {
    'a': ('dpsh_train', part_a),
    'b': ('metric_backend', part_b),
    'c': ('dadh_run', part_c),
    'd': ('gan_steps', part_d),
}


def _finite(obj) -> bool:
    """Whether every float in ``obj`` is finite (None allowed)."""
    if isinstance(obj, dict):
        return all(_finite(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return all(_finite(v) for v in obj)
    if isinstance(obj, float):
        return math.isfinite(obj)
    return True


def write_json(path, obj):
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(obj, f, indent=1, default=str)
    os.replace(tmp, path)


def render_markdown(report: dict) -> str:
    m = report['machine']
    lines = [
        '# GPU benchmark suite (`benchmarks/gpu_suite.py`)', '',
        f'Device: **{m["device"]}**' + (
            f' ({m["gpu_memory_gib"]:.0f} GiB, compute capability '
            f'{m["gpu_capability"]})' if 'gpu_memory_gib' in m else '') +
        f'; CUDA {m["cuda"]}, cuDNN {m["cudnn"]}, torch {m["torch"]}, '
        f'mmengine {m["mmengine"]}, mmpretrain {m["mmpretrain"]}, Python '
        f'{m["python"]}; host CPU {m["cpu"]}, {m["cpu_count"]} logical '
        f'cores, {m["torch_threads"]} torch threads.' +
        (' **Smoke run** (tiny sizes on CPU: not benchmark numbers).'
         if report['smoke'] else ''), '',
        f'Total wall time {report["wall_s"]:.0f} s. Medians of interleaved '
        'repeats after warm-up, synchronized around each timed region; each '
        'part stops repeating at its time budget.', ''
    ]
    for key, (name, _) in PARTS.items():
        part = report['parts'].get(name)
        if part is None:
            continue
        lines.append(f'## ({key}) {name}: {part["status"]} '
                     f'({part["wall_s"]:.1f} s)')
        lines.append('')
        if part['status'] != 'ok':
            lines += ['```', part['error'].strip()[-3000:], '```', '']
            continue
        r = part['result']
        t = r.get('timing')
        reps = (f' Repeats: {t["repeats_run"]} of {t["repeats_asked"]} '
                f'({t["steps_per_repeat"]} step(s) each, budget '
                f'{t["budget_s"]:.0f} s' +
                (', stopped by the budget' if t['stopped_by_budget'] else '')
                + ').') if t else ''
        if name == 'dpsh_train':
            lines += [
                f'DPSH, {r["backbone"]}, batch {r["batch"]}, '
                f'{r["image_size"]} px, `{r["config"]}`.' + reps, '',
                '| path | img/s | s/iter |', '|---|---|---|']
            for k, v in r['images_per_s'].items():
                lines.append(f'| {k} | {v:.1f} | '
                             f'{r["median_s_per_iter"][k]:.4f} |')
            lines += [
                '',
                f'- Runner path / plain loop, fp32: '
                f'**{r["ratio_runner_over_plain_fp32"]:.3f}**',
                f'- Runner `{r["amp_wrapper"]}` (bfloat16) / plain autocast '
                f'loop: **{r["ratio_runner_amp_over_plain_autocast"]:.3f}**',
                f'- Runner AMP / Runner fp32: '
                f'{r["speedup_amp_over_fp32_runner"]:.2f}x', '']
        elif name == 'metric_backend':
            p = r['problem']
            lines += [
                f'{p["num_query"]:,} queries x {p["num_db"]:,} database, '
                f'{p["bits"]} bits, {p["classes"]} classes; '
                f'{" + ".join(p["metrics"])} (K = {p["topk"]}, r <= '
                f'{p["radius"]}).' + reps, '',
                '| backend | median s |', '|---|---|',
                f'| numpy (host) | {r["median_s"]["numpy_host"]:.3f} |',
                f'| torch ({r["torch_device"]}) | '
                f'{r["median_s"]["torch_device"]:.3f} |', '',
                f'- Speed-up torch/{r["torch_device"]} over numpy: '
                f'**{r["speedup_torch_device_over_numpy"]:.1f}x**',
                f'- Numbers identical: **{r["identical"]}** (max abs diff '
                f'{r["max_abs_diff"]:.1e}); ' + ', '.join(
                    f'{k} = {v:.4f}' for k, v in r['scalars'].items()), '']
        elif name == 'dadh_run':
            mem = r['max_memory_allocated_mib']
            lines += [
                f'DADH, {r["backbone"]}, `{r["config"]}`, '
                f'{r["iterations"]} of {r["iterations_asked"]} iterations '
                f'({r["epochs"]} epochs of batch {r["batch"]}) through '
                f'`Runner.train()`, {r["num_workers"]} data workers; budget '
                f'{r["budget_s"]:.0f} s (checked after each epoch' +
                (', stopped by it' if r['stopped_by_budget'] else '') +
                f'). Data: {r["data"]}.', '',
                f'- s/iter (train_step, median after '
                f'{r["warmup_iters_excluded"]} warm-up iterations): '
                f'**{r["median_s_per_iter"]:.4f}**; wall s/iter of the whole '
                f'run: {r["wall_s_per_iter"]:.4f} ({r["wall_s"]:.1f} s)',
                '- `torch.cuda.max_memory_allocated`: ' +
                (f'**{mem:.0f} MiB**' if mem is not None else 'n/a (CPU)'),
                f'- B-steps (`DADHCodeUpdateHook`, '
                f'{r["code_update_hook"]}): ' + '; '.join(
                    f'{b["seconds"]:.3f} s, {b["changed_bits"]:.2%} bits '
                    'changed' for b in r['b_steps']), '']
        elif name == 'gan_steps':
            lines += [r['note'] + '.' + reps, '',
                      '| case | config | images/batch | it/s | s/iter |',
                      '|---|---|---|---|---|']
            for k, c in r['cases'].items():
                lines.append(f'| {k} | `{c["config"]}` | '
                             f'{c["images_per_batch"]} | '
                             f'{c["iters_per_s"]:.2f} | '
                             f'{c["median_s_per_iter"]:.4f} |')
            lines.append('')
    return '\n'.join(lines) + '\n'


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--smoke', action='store_true',
                        help='every part at tiny size on CPU')
    parser.add_argument('--out-dir', default=DEFAULT_OUT)
    parser.add_argument('--parts', nargs='+', default=list(PARTS),
                        choices=list(PARTS))
    parser.add_argument('--synthetic-data', action='store_true',
                        help='(c): random images even if CIFAR-10 is there')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch threads (default: 1 with --smoke, '
                        'else torch\'s default)')
    args = parser.parse_args(argv)
    if args.smoke:
        device = torch.device('cpu')
        torch.set_num_threads(args.threads or 1)
    else:
        if not torch.cuda.is_available():
            print('gpu_suite: no CUDA device: run with --smoke on CPU',
                  file=sys.stderr)
            return 2
        device = torch.device('cuda', 0)
        torch.cuda.set_device(device)
        torch.backends.cudnn.benchmark = True  # as the configs' env_cfg
        if args.threads:
            torch.set_num_threads(args.threads)
    import logging

    import hashplugins  # noqa: F401
    from mmengine.logging import MMLogger
    from mmengine.utils import mkdir_or_exist
    MMLogger.get_current_instance().setLevel(logging.WARNING)
    mkdir_or_exist(args.out_dir)
    sizes = SIZES['smoke' if args.smoke else 'full']
    report = dict(machine=device_info(device), smoke=args.smoke, parts={},
                  started=time.strftime('%Y-%m-%d %H:%M:%S %Z'))
    start = time.perf_counter()
    failed = []
    for key in args.parts:
        name, fn = PARTS[key]
        print(f'[gpu_suite] ({key}) {name} ...', flush=True)
        t0 = time.perf_counter()
        kwargs = dict(force_synthetic=args.synthetic_data) if key == 'c' \
            else {}
        try:
            result = fn(device, sizes[key], args.smoke, **kwargs)
            if not _finite(result):
                raise ValueError(f'non-finite number in the results: '
                                 f'{json.dumps(result, default=str)}')
            part = dict(status='ok', result=result, error=None)
        except Exception:  # noqa: BLE001 -- recorded, the others go on
            part = dict(status='failed', result=None,
                        error=traceback.format_exc())
            failed.append(name)
            print(part['error'], file=sys.stderr, flush=True)
        part.update(part=key, name=name, wall_s=time.perf_counter() - t0)
        if device.type == 'cuda':
            part['max_memory_allocated_mib_process'] = (
                torch.cuda.max_memory_allocated(device) / 2**20)
            torch.cuda.empty_cache()
        report['parts'][name] = part
        write_json(osp.join(args.out_dir, f'{name}.json'),
                   dict(machine=report['machine'], smoke=args.smoke, **part))
        print(f'[gpu_suite] ({key}) {name}: {part["status"]} in '
              f'{part["wall_s"]:.1f} s', flush=True)
    report['wall_s'] = time.perf_counter() - start
    report['failed'] = failed
    write_json(osp.join(args.out_dir, 'gpu_suite.json'), report)
    with open(osp.join(args.out_dir, 'gpu_suite.md'), 'w') as f:
        f.write(render_markdown(report))
    print(f'[gpu_suite] wrote {args.out_dir}/{{gpu_suite.md,gpu_suite.json,'
          f'{",".join(PARTS[k][0] for k in args.parts)}.json}} in '
          f'{report["wall_s"]:.0f} s; failed: {failed or "none"}',
          flush=True)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
