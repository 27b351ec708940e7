"""DSH-GANs (Qiu et al., SIGIR 2017): semi-supervised GAN + 3-stream CNN."""
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import MessageHub
from mmengine.optim import OptimWrapperDict
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from ..gans.gan_utils import (adversarial_loss, gather_log_vars,
                              set_requires_grad)
from ..gans.hashing_gan import HashingGAN
from ..losses.multi_hot_classification_loss import \
    multi_hot_classification_loss
from ..utils import (check_true, frozen_batch_norm_statistics,
                     labels_to_multihot, select_rows)
from .three_stream_net import predict_hash_codes

# Loss configs of DSH-GANs' equations (blog eqs. 3-7): unit weights.
CNN_LOSSES = dict(
    triplet=dict(type='TripletHingeLoss', margin=1.0),
    adversary=dict(type='RealSyntheticLoss'),
    classification=dict(type='MultiHotClassificationLoss'),
    unlabelled_adversary=dict(type='RealSyntheticLoss'))
GENERATOR_LOSSES = dict(
    triplet=dict(type='TripletHingeLoss', margin=1.0),
    adversary=dict(type='RealSyntheticLoss', loss_weight=-1.0),
    classification=dict(type='MultiHotClassificationLoss'))
TRIPLET_IMAGE_REDUCTIONS = ('mean', 'sum')


def split_labelled(data_samples: Sequence[DataSample]
                   ) -> Tuple[List[int], List[int]]:
    """Batch positions of labelled and unlabelled samples, from the
    ``is_labelled`` metainfo every training sample must carry.

    Raises:
        ValueError: Naming the sample, if its tag is missing or not a bool.
    """
    labelled, unlabelled = [], []
    for i, sample in enumerate(data_samples):
        tag = sample.metainfo.get('is_labelled')
        if isinstance(tag, torch.Tensor) and tag.numel() == 1:
            tag = bool(tag.item())
        if not isinstance(tag, bool):
            raise ValueError(
                f'DSHGANs: sample {i} of the batch has is_labelled={tag!r}; '
                'train with a SemiSupervisedDataset (collate_fn=dict(type='
                "'semi_supervised_collate')), which tags every sample")
        (labelled if tag else unlabelled).append(i)
    return labelled, unlabelled


def split_semi_supervised_batch(inputs: torch.Tensor,
                                data_samples: Sequence[DataSample],
                                num_classes: int, owner: str):
    """``(labelled images, their (N, C) multi-hot labels, unlabelled
    images)`` of a semi-supervised batch; unlabelled samples' labels are
    never read.

    Raises:
        ValueError: If the batch holds no labelled sample, or a labelled
            sample has no label.
    """
    labelled, unlabelled = split_labelled(data_samples)
    if not labelled:
        raise ValueError(f'{owner}: the batch holds no labelled sample')
    samples = [data_samples[i] for i in labelled]
    if any(s.gt_label.numel() == 0 for s in samples):  # shapes: no sync
        raise ValueError(f'{owner}: a labelled sample has no label')
    labels = labels_to_multihot(samples, num_classes, inputs.device)
    return (select_rows(inputs, labelled), labels,
            select_rows(inputs, unlabelled))


def build_loss_dict(cfg: dict, known: dict, name: str,
                    multi_label: bool) -> nn.ModuleDict:
    """Loss modules of a ``{term: config or None}`` dict over the terms
    of ``known``: a term not given keeps its ``known`` config (as config
    inheritance merges), None drops it.

    Raises:
        ValueError: On an unknown term, or a classification loss whose
            ``multi_label`` disagrees with the model's.
    """
    unknown = set(cfg) - set(known)
    if unknown:
        raise ValueError(f'{name}: unknown terms {sorted(unknown)}; known: '
                         f'{sorted(known)} (None drops a term)')
    cfg = {**known, **cfg}
    built = {term: (None if cfg[term] is None else MODELS.build(cfg[term]))
             for term in known}
    loss = built.get('classification')
    if loss is not None and getattr(loss, 'multi_label',
                                    multi_label) != multi_label:
        raise ValueError(
            f'{name}.classification has multi_label={loss.multi_label} but '
            f'the model has multi_label={multi_label}; set both alike')
    return _OptionalModuleDict(built)


class _OptionalModuleDict(nn.ModuleDict):
    """A ModuleDict whose absent terms read as None."""

    def __init__(self, modules: dict):
        super().__init__({k: v for k, v in modules.items() if v is not None})
        self._terms = tuple(modules)

    def __getitem__(self, key: str):
        if key not in self._terms:
            raise KeyError(key)
        return super().__getitem__(key) if key in self._modules else None


def disjoint_labels(labels: torch.Tensor,
                    bank: Optional[torch.Tensor] = None,
                    generator: Optional[torch.Generator] = None
                    ) -> torch.Tensor:
    """Multi-hot labels sharing no label with each row of ``labels``.

    Row i is a uniformly drawn row of ``bank`` with no label in common
    with ``labels[i]`` (real label combinations, for multi-label data);
    where the bank has none (or no bank is given, the single-label case)
    it is one class drawn uniformly from those ``labels[i]`` lacks.

    Args:
        labels (torch.Tensor): (N, C) multi-hot query labels.
        bank (torch.Tensor, optional): (M, C) multi-hot candidate rows.
        generator (torch.Generator, optional): RNG.

    Returns:
        torch.Tensor: (N, C) float multi-hot rows.

    Raises:
        ValueError: If a query carries every class (no disjoint label).
    """
    labels = labels.float()
    free = 1. - labels.clamp(max=1.)
    check_true(free.sum(1) > 0, 'disjoint_labels: a query carries every '
               'class; no negative label set exists')
    out = F.one_hot(torch.multinomial(free, 1, generator=generator)[:, 0],
                    labels.shape[1]).float()
    if bank is not None and len(bank):
        ok = (labels @ bank.float().t()) == 0  # (N, M) disjoint rows
        has = ok.any(1, keepdim=True)
        # Rows without a disjoint bank row draw from a dummy uniform row and
        # keep their class draw: no host-side branch on ``has``.
        weights = torch.where(has, ok.float(), torch.ones_like(ok.float()))
        pick = torch.multinomial(weights, 1, generator=generator)[:, 0]
        out = torch.where(has, bank.float()[pick], out)
    return out


@MODELS.register_module()
class DSHGANs(HashingGAN):
    """DSH-GANs: a semi-supervised conditional GAN and a three-stream
    hashing CNN trained jointly (minimax), with an ``OptimWrapperDict``
    of ``generator``, ``discriminator`` and ``hasher``.

    Parts (spec §4): the conditional generator ``G(z, y)`` (e.g.
    :class:`DCGANGenerator`, multi-hot ``y`` allowed), an AC-GAN
    discriminator ``D`` (:class:`DCGANDiscriminator`, ``conditioning=
    'ac'``) for the optional GAN pre-training, and the hashing CNN
    (:class:`ThreeStreamHashNet`: adversary, hash, classification
    streams). Batches come from a :class:`SemiSupervisedDataset`:
    labelled reals ``(x, y)`` and unlabelled reals ``x_u``, split by the
    ``is_labelled`` tag.

    Schedule, per iteration ``t`` (0-based):

    - GAN stage (``t < pretrain_iters``): one D step; every
      ``disc_steps``-th iteration ``gen_steps`` G steps (AC-GAN losses of
      :class:`HashingGAN`; unlabelled reals enter only D's real/synthetic
      term).
    - joint stage: ``hasher_steps`` CNN steps and, every ``disc_steps``-th
      iteration, ``gen_steps`` G steps, on triplets of a real labelled
      query ``x``, a synthetic positive ``x⁺ = G(z, y)`` and a synthetic
      negative ``x⁻ = G(z', y⁻)`` with ``y⁻`` sharing no label with ``y``
      (:func:`disjoint_labels`). The real/synthetic decision is the CNN's
      adversary stream (blog eqs. 6-7); D is stepped in this stage only
      with ``joint_gan_loss_weight > 0``. With ``l̂ = (l(x) + l(x⁺) +
      l(x⁻)) / 3`` per triplet (``triplet_images='mean'``, eq. 4; ``'sum'``
      drops the 1/3):

      - CNN (``losses``): ``l_triplet + l̂_a + l̂_c`` (+ the adversary
        term on the unlabelled reals, ``-log P(real|x_u)``), averaged over
        triplets;
      - G (``generator_losses``, CNN and D frozen, the CNN's BatchNorm
        statistics not updated): ``l_triplet - l̂_a + l̂_c`` over the
        triplet's fakes (``l(x)`` is constant in G), plus
        ``joint_gan_loss_weight`` times the AC-GAN loss against D.

    A term whose config is None is dropped; an adversary stream no loss
    uses is frozen (DDP need not wait for its gradient).

    Args:
        generator (dict): Conditional generator config.
        discriminator (dict): AC discriminator config.
        hasher (dict): :class:`ThreeStreamHashNet` config.
        data_preprocessor (dict, optional): Defaults to pixels in
            [-1, 1] (the generator's range), BGR to RGB.
        multi_label (bool): Multi-label data: sigmoid classification (the
            classification losses must agree) and negatives drawn from
            the batch's label sets. Defaults to False.
        losses (dict): CNN loss configs ``triplet`` (a
            :class:`TripletHingeLoss`), ``adversary``, ``classification``,
            ``unlabelled_adversary`` (None drops one). Defaults to
            :data:`CNN_LOSSES`.
        generator_losses (dict): G's ``triplet``, ``adversary`` (weight -1:
            eq. 7's ``-l̂_a``), ``classification``. Defaults to
            :data:`GENERATOR_LOSSES`.
        triplet_images (str): ``'mean'`` (eq. 4) or ``'sum'`` over a
            triplet's images for the adversary and classification terms.
        joint_gan_loss_weight (float): > 0 keeps training the separate D in
            the joint stage and adds its AC-GAN loss to G's. Defaults to 0.
        generator_step_updates_bn (bool): Let the G step's CNN passes
            update the CNN's BatchNorm running statistics. Defaults to
            False.
        pretrain_iters (int): GAN-only iterations first. Defaults to 0.
        disc_steps (int): Iterations per generator phase. Defaults to 1.
        gen_steps (int): Generator steps per phase. Defaults to 1.
        hasher_steps (int): CNN steps per joint iteration. Defaults to 1.
        adv_loss (str): D/G GAN loss, ``'vanilla'`` or ``'hinge'``.
        noise_dist (str): ``'uniform'`` (U(-1, 1), spec §4.2) or
            ``'normal'``.
        cls_loss_weight (float): Weight of D's auxiliary classifier terms.
        disc_cls_on_fakes (bool): D also classifies fakes (AC-GAN).
        init_cfg (dict, optional): Initialization config.
    """

    def __init__(self,
                 generator: dict,
                 discriminator: dict,
                 hasher: dict,
                 data_preprocessor: Optional[dict] = None,
                 multi_label: bool = False,
                 losses: dict = CNN_LOSSES,
                 generator_losses: dict = GENERATOR_LOSSES,
                 triplet_images: str = 'mean',
                 joint_gan_loss_weight: float = 0.,
                 generator_step_updates_bn: bool = False,
                 pretrain_iters: int = 0,
                 disc_steps: int = 1,
                 gen_steps: int = 1,
                 hasher_steps: int = 1,
                 adv_loss: str = 'vanilla',
                 noise_dist: str = 'uniform',
                 cls_loss_weight: float = 1.,
                 disc_cls_on_fakes: bool = True,
                 init_cfg: Optional[dict] = None):
        super().__init__(
            generator=generator, discriminator=discriminator,
            data_preprocessor=data_preprocessor, adv_loss=adv_loss,
            noise_dist=noise_dist, disc_steps=disc_steps,
            gen_steps=gen_steps, cls_loss_weight=cls_loss_weight,
            disc_cls_on_fakes=disc_cls_on_fakes, init_cfg=init_cfg)
        if self.num_classes is None or not self.ac_discriminator:
            raise ValueError(
                'DSHGANs: needs a class-conditional generator (num_classes) '
                "and an auxiliary-classifier discriminator (conditioning="
                "'ac'): unlabelled reals have no label to project; got "
                f'generator.num_classes={self.num_classes}, '
                'discriminator.conditioning='
                f"{getattr(self.discriminator, 'conditioning', None)!r}")
        if triplet_images not in TRIPLET_IMAGE_REDUCTIONS:
            raise ValueError(f'DSHGANs: triplet_images must be one of '
                             f'{TRIPLET_IMAGE_REDUCTIONS}, got '
                             f'{triplet_images!r}')
        for name, value in (('pretrain_iters', pretrain_iters),
                            ('hasher_steps', hasher_steps)):
            if not isinstance(value, int) or value < (name == 'hasher_steps'):
                raise ValueError(f'DSHGANs: {name}={value!r} is not a valid '
                                 'step count')
        if joint_gan_loss_weight < 0:
            raise ValueError('DSHGANs: joint_gan_loss_weight must be >= 0, '
                             f'got {joint_gan_loss_weight!r}')
        self.hasher = MODELS.build(hasher)
        if self.hasher.num_classes != self.num_classes:
            raise ValueError(
                f'DSHGANs: hasher.num_classes={self.hasher.num_classes} but '
                f'generator.num_classes={self.num_classes}')
        self.multi_label = multi_label
        self.losses = build_loss_dict(losses, CNN_LOSSES, 'losses',
                                      multi_label)
        self.generator_losses = build_loss_dict(
            generator_losses, GENERATOR_LOSSES, 'generator_losses',
            multi_label)
        if self.losses['adversary'] is None and self.losses[
                'unlabelled_adversary'] is None:
            # No loss trains the adversary stream: frozen, DDP does not
            # wait for its gradient (find_unused_parameters=False holds).
            set_requires_grad(self.hasher.adversary, False)
        self.triplet_images = triplet_images
        self.joint_gan_loss_weight = joint_gan_loss_weight
        self.generator_step_updates_bn = generator_step_updates_bn
        self.pretrain_iters = pretrain_iters
        self.hasher_steps = hasher_steps

    # ------------------------------------------------------------------
    # Labels
    def condition_labels(self, num: int,
                         bank: Optional[torch.Tensor] = None
                         ) -> torch.Tensor:
        """(num, C) multi-hot conditioning labels of GAN-stage fakes:
        label rows of ``bank`` (multi-label) or uniform classes."""
        device = self.data_preprocessor.device
        if self.multi_label and bank is not None and len(bank):
            return bank[torch.randint(len(bank), (num, ), device=device)]
        return F.one_hot(torch.randint(self.num_classes, (num, ),
                                       device=device),
                         self.num_classes).float()

    def negative_labels(self, labels: torch.Tensor) -> torch.Tensor:
        """Labels of the synthetic negatives: disjoint from ``labels``."""
        return disjoint_labels(labels, labels if self.multi_label else None)

    def _label_loss(self, logits, labels) -> torch.Tensor:
        return multi_hot_classification_loss(logits, labels,
                                             self.multi_label,
                                             reduction='none')

    # ------------------------------------------------------------------
    # GAN stage losses
    def gan_disc_losses(self, reals: torch.Tensor, labels: torch.Tensor
                        ) -> Dict[str, torch.Tensor]:
        """D losses; ``reals`` holds the ``len(labels)`` labelled images
        first, then unlabelled ones (real/synthetic term only)."""
        with torch.no_grad():
            fake_labels = self.condition_labels(len(reals), labels)
            fakes, _ = self.generate(len(reals), fake_labels)
        logit_real, cls_real = self.discriminator(reals)
        logit_fake, cls_fake = self.discriminator(fakes)
        losses = dict(
            loss_disc_real=adversarial_loss(logit_real, True, self.adv_loss),
            loss_disc_fake=adversarial_loss(logit_fake, False,
                                            self.adv_loss))
        cls = self._label_loss(cls_real[:len(labels)], labels).mean()
        if self.disc_cls_on_fakes:
            cls = cls + self._label_loss(cls_fake, fake_labels).mean()
        losses['loss_disc_cls'] = self.cls_loss_weight * cls
        return losses

    def gan_gen_losses(self, fakes: torch.Tensor, labels: torch.Tensor,
                       weight: float = 1.) -> Dict[str, torch.Tensor]:
        """AC-GAN generator losses of ``fakes`` made from ``labels``."""
        logit, cls_logits = self.discriminator(fakes)
        return dict(
            loss_gen=weight * adversarial_loss(
                logit, True, self.adv_loss, for_generator=True),
            loss_gen_cls=weight * self.cls_loss_weight *
            self._label_loss(cls_logits, labels).mean())

    def pretrain_gen_losses(self, num: int, bank: torch.Tensor
                            ) -> Dict[str, torch.Tensor]:
        """GAN-stage G losses on ``num`` fresh fakes."""
        labels = self.condition_labels(num, bank)
        fakes, _ = self.generate(num, labels)
        return self.gan_gen_losses(fakes, labels)

    # ------------------------------------------------------------------
    # Joint stage losses
    def make_triplet_fakes(self, labels: torch.Tensor
                           ) -> Tuple[torch.Tensor, torch.Tensor]:
        """``[x⁺; x⁻]`` (2N images, with gradients) and ``y⁻``."""
        negatives = self.negative_labels(labels)
        fakes, _ = self.generate(2 * len(labels),
                                 torch.cat([labels, negatives]))
        return fakes, negatives

    def _streams(self, inputs: torch.Tensor):
        return self.hasher(inputs)

    def _triplet_avg_factor(self, num_triplets: int) -> int:
        """Divisor of a per-image sum over triplets: the mean over the
        triplet's 3 images and over triplets, or the mean of 3-image
        sums."""
        return num_triplets * (3 if self.triplet_images == 'mean' else 1)

    def cnn_losses(self, reals: torch.Tensor, labels: torch.Tensor,
                   unlabelled: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Hashing-CNN losses (eq. 6) on synthetic triplets of the
        labelled reals, plus the unlabelled reals' adversary term."""
        terms = self.losses
        n = len(reals)
        with torch.no_grad():
            fakes, negatives = self.make_triplet_fakes(labels)
        codes, adv, cls = self._streams(torch.cat([reals, fakes,
                                                   unlabelled]))
        avg = self._triplet_avg_factor(n)
        losses = {}
        if terms['triplet'] is not None:
            losses['loss_triplet'] = terms['triplet'](
                codes[:n], codes[n:2 * n], codes[2 * n:3 * n])
        if terms['adversary'] is not None:
            is_real = adv.new_zeros(3 * n)  # made on the device: no copy
            is_real[:n] = 1.
            losses['loss_adv'] = terms['adversary'](
                adv[:3 * n], is_real, avg_factor=avg)
        if terms['classification'] is not None:
            losses['loss_cls'] = terms['classification'](
                cls[:3 * n], torch.cat([labels, labels, negatives]),
                avg_factor=avg)
        if len(unlabelled) and terms['unlabelled_adversary'] is not None:
            losses['loss_adv_unlabelled'] = terms['unlabelled_adversary'](
                adv[3 * n:], adv.new_ones(len(unlabelled)))
        return losses

    def joint_gen_losses(self, reals: torch.Tensor, labels: torch.Tensor
                         ) -> Dict[str, torch.Tensor]:
        """Generator losses (eq. 7) on fresh triplet fakes (CNN and D
        frozen by the caller). The reals go through the CNN in the same
        batch, as in the CNN step, so the batch statistics it normalizes
        with are alike; its running statistics are left alone unless
        ``generator_step_updates_bn``."""
        terms = self.generator_losses
        n = len(reals)
        fakes, negatives = self.make_triplet_fakes(labels)
        if self.generator_step_updates_bn:
            codes, adv, cls = self._streams(torch.cat([reals, fakes]))
        else:
            with frozen_batch_norm_statistics(self.hasher):
                codes, adv, cls = self._streams(torch.cat([reals, fakes]))
        avg = self._triplet_avg_factor(n)
        losses = {}
        if terms['triplet'] is not None:
            losses['loss_gen_triplet'] = terms['triplet'](
                codes[:n].detach(), codes[n:2 * n], codes[2 * n:])
        if terms['adversary'] is not None:
            losses['loss_gen_adv'] = terms['adversary'](
                adv[n:], adv.new_zeros(2 * n), avg_factor=avg)
        if terms['classification'] is not None:
            losses['loss_gen_cls_cnn'] = terms['classification'](
                cls[n:], torch.cat([labels, negatives]), avg_factor=avg)
        if self.joint_gan_loss_weight:
            losses.update(self.gan_gen_losses(
                fakes, torch.cat([labels, negatives]),
                self.joint_gan_loss_weight))
        return losses

    # ------------------------------------------------------------------
    # Training
    def _update(self, optim_wrapper, module, loss_fn: Callable[[], dict],
                frozen: Sequence = ()) -> Dict[str, torch.Tensor]:
        """One update of ``module``'s optimizer on ``loss_fn()`` with the
        ``frozen`` modules' parameters excluded; log vars without the
        total."""
        # Only parameters that train: a frozen adversary stays frozen.
        restore = [p for m in frozen for p in m.parameters()
                   if p.requires_grad]
        for param in restore:
            param.requires_grad_(False)
        try:
            with optim_wrapper.optim_context(module):
                losses = loss_fn()
            parsed, log_vars = self.parse_losses(losses)
            optim_wrapper.update_params(parsed)
        finally:
            for param in restore:
                param.requires_grad_(True)
        log_vars.pop('loss', None)
        return log_vars

    def _steps(self, count: int, step: Callable[[], dict]) -> dict:
        return gather_log_vars([step() for _ in range(count)])

    def split_batch(self, inputs: torch.Tensor,
                    data_samples: Sequence[DataSample]):
        """``(labelled images, their (N, C) multi-hot labels, unlabelled
        images)``; see :func:`split_semi_supervised_batch`."""
        return split_semi_supervised_batch(inputs, data_samples,
                                           self.num_classes, 'DSHGANs')

    def train_step(self, data, optim_wrapper: OptimWrapperDict
                   ) -> Dict[str, torch.Tensor]:
        """One iteration of the schedule in the class docstring."""
        curr_iter = MessageHub.get_current_instance().get_info('iter', 0)
        data = self.data_preprocessor(data, True)
        reals, labels, unlabelled = self.split_batch(data['inputs'],
                                                     data['data_samples'])
        gen_ow, disc_ow = optim_wrapper['generator'], optim_wrapper[
            'discriminator']
        hash_ow = optim_wrapper['hasher']
        log_vars = {}
        pretraining = curr_iter < self.pretrain_iters
        if pretraining or self.joint_gan_loss_weight:
            all_reals = torch.cat([reals, unlabelled])
            log_vars.update(self._update(
                disc_ow, self.discriminator,
                lambda: self.gan_disc_losses(all_reals, labels)))
        stage_iter = curr_iter if pretraining else (curr_iter -
                                                    self.pretrain_iters)
        gen_iter = self.is_generator_iter(stage_iter)
        if pretraining:
            if gen_iter:
                num = len(reals) + len(unlabelled)
                log_vars.update(self._steps(self.gen_steps, lambda: self.
                                            _update(gen_ow, self.generator,
                                                    lambda: self.
                                                    pretrain_gen_losses(
                                                        num, labels),
                                                    [self.discriminator])))
            return log_vars
        log_vars.update(self._steps(self.hasher_steps, lambda: self._update(
            hash_ow, self.hasher,
            lambda: self.cnn_losses(reals, labels, unlabelled))))
        if gen_iter:
            log_vars.update(self._steps(self.gen_steps, lambda: self._update(
                gen_ow, self.generator,
                lambda: self.joint_gen_losses(reals, labels),
                [self.hasher, self.discriminator])))
        return log_vars

    # ------------------------------------------------------------------
    # Inference
    def forward(self,
                inputs: Optional[torch.Tensor] = None,
                data_samples: Optional[List[DataSample]] = None,
                mode: str = 'tensor'):
        """``'tensor'``: the CNN's ``(codes, adv_logits, cls_logits)``;
        ``'predict'``: data samples carrying ``hash_code`` (±1, sigmoid
        codes thresholded at 0.5). Training goes through
        :meth:`train_step`; fakes come from :meth:`sample`."""
        if mode == 'tensor':
            return self.hasher(inputs)
        if mode == 'predict':
            return predict_hash_codes(self.hasher, inputs, data_samples)
        if mode == 'loss':
            raise RuntimeError('DSHGANs trains through train_step (an '
                               'OptimWrapperDict with generator, '
                               'discriminator and hasher)')
        raise RuntimeError(f'Invalid mode "{mode}".')
