# Runtime shared by every hashplugins config. Registries are mmpretrain's, so
# every mmpretrain backbone, neck, transform and checkpoint URL works as is.
default_scope = 'mmpretrain'
custom_imports = dict(imports=['hashplugins'], allow_failed_imports=False)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # Keep the latest 2 checkpoints (and the best, with save_best). Written
    # to a temporary name and renamed, older ones removed only afterwards:
    # a kill or a full disk during a save never loses the last good one.
    checkpoint=dict(
        type='AtomicCheckpointHook', interval=1, max_keep_ckpts=2),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='VisualizationHook', enable=False),
    # One training run per work_dir (work_dir/run.lock); a plain message
    # when --resume finds no checkpoint. A default hook, not a custom one,
    # because configs that set custom_hooks replace the base list.
    work_dir_lock=dict(type='WorkDirLockHook'),
    # A pairwise/triplet loss needs 2 (3) samples in each rank's batch:
    # a smaller train_dataloader.batch_size is refused before iteration 1.
    batch_size_check=dict(type='BatchSizeCheckHook'),
    # --resume takes lr, momentum, ... and the schedulers' settings from the
    # checkpoint: warn about each config value it overrides.
    resume_override=dict(type='ResumeOverrideHook'),
)

# Checkpoints hold only tensors and plain values, so they load with
# torch.load(weights_only=True): --resume and load_from stay safe.
custom_hooks = [dict(type='WeightsOnlyCheckpointHook')]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # tools/train.py switches to gloo on machines without CUDA.
    dist_cfg=dict(backend='nccl'),
)

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='UniversalVisualizer', vis_backends=vis_backends)

log_level = 'INFO'
load_from = None
resume = False

# Seeded by default: hashing results move with the seed, so runs must be
# comparable. Set deterministic=True for bit-exact reruns (slower on GPU).
randomness = dict(seed=0, deterministic=False)
