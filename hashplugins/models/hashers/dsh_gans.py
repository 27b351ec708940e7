"""DSH-GANs (Qiu et al., SIGIR 2017): semi-supervised GAN + 3-stream CNN."""
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.logging import MessageHub
from mmengine.optim import OptimWrapperDict
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from ..gans.gan_utils import (adversarial_loss, gather_log_vars,
                              set_requires_grad)
from ..gans.hashing_gan import HashingGAN
from ..losses.triplet_ranking_loss import triplet_ranking_loss
from ..losses.utils import float32_loss
from ..utils import check_true, labels_to_multihot, select_rows

TRIPLET_SOURCES = ('synthetic', 'real')
LOSS_WEIGHTS = dict(
    triplet=1.,  # CNN: triplet ranking loss of the hash stream
    cls=1.,  # CNN: classification stream
    adv=1.,  # CNN: adversary stream, summed over a triplet's 3 images
    unlabelled_adv=1.,  # CNN: adversary stream on unlabelled reals
    gen_adv=1.,  # G: fool the CNN's adversary stream
    gen_cls=1.,  # G: synthetic images classified as their labels
    gen_triplet=0.,  # G: the triplet loss through the synthetic images
    gen_gan=1.,  # G: AC-GAN loss against D in the joint stage (0: D idle)
)


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


@float32_loss
def triplet_hinge(anchor: torch.Tensor, positive: torch.Tensor,
                  negative: torch.Tensor, margin: float) -> torch.Tensor:
    r"""Mean of :math:`\max(0, m + \|h - h^+\|^2 - \|h - h^-\|^2)` over
    given triplets (rows), the relaxed Hamming triplet loss (spec §4.2)."""
    d_pos = (anchor - positive).pow(2).sum(1)
    d_neg = (anchor - negative).pow(2).sum(1)
    return (margin + d_pos - d_neg).clamp(min=0).mean()


@float32_loss
def label_loss(logits: torch.Tensor, labels: torch.Tensor,
               multi_label: bool) -> torch.Tensor:
    """Per-sample classification loss (N,) against multi-hot ``labels``:
    softmax cross-entropy (target ``y / |y|_1``, the class for one-hot
    rows) or, ``multi_label``, the sum over classes of sigmoid BCE."""
    if multi_label:
        return F.binary_cross_entropy_with_logits(
            logits, labels, reduction='none').sum(1)
    return F.cross_entropy(logits, labels / labels.sum(1, keepdim=True),
                           reduction='none')


@MODELS.register_module()
class DSHGANs(HashingGAN):
    """DSH-GANs: a semi-supervised conditional GAN and a three-stream
    hashing CNN trained jointly (minimax), with an ``OptimWrapperDict``
    of ``generator``, ``discriminator`` and ``hasher``.

    Parts (spec §4): the conditional generator ``G(z, y)`` (e.g.
    :class:`DCGANGenerator`, multi-hot ``y`` allowed), an AC-GAN
    discriminator ``D`` (:class:`DCGANDiscriminator`, ``conditioning=
    'ac'``) and the hashing CNN (:class:`ThreeStreamHashNet`: adversary,
    hash, classification streams). Batches come from a
    :class:`SemiSupervisedDataset`: labelled reals ``(x, y)`` and
    unlabelled reals ``x_u``, split by the ``is_labelled`` tag.

    Schedule, per iteration ``t`` (0-based):

    - GAN stage (``t < pretrain_iters``, optional pre-training): one D
      step; every ``disc_steps``-th iteration ``gen_steps`` G steps.
      ``L_D = adv(D(x), D(x_u) real; D(G(z, y')) fake) + cls_loss_weight
      · [CE(c_D(x), y) (+ CE(c_D(G), y'))]``: unlabelled reals enter only
      the real/synthetic term. ``L_G = adv(D(G), real) + cls_loss_weight
      · CE(c_D(G), y')``. ``y'``: uniform classes (single-label) or
      label rows of the labelled batch (multi-label).
    - joint stage: a D step (if ``loss_weights['gen_gan'] > 0``),
      ``hasher_steps`` CNN steps, and every ``disc_steps``-th iteration
      ``gen_steps`` G steps, on triplets of a real labelled query ``x``,
      a synthetic positive ``x⁺ = G(z, y)`` and a synthetic negative
      ``x⁻ = G(z', y⁻)`` with ``y⁻`` sharing no label with ``y``
      (:func:`disjoint_labels`):

      - CNN: ``w_triplet · ℓ_tri(h, h⁺, h⁻) + w_cls · [ℓ_c(x, y) +
        ℓ_c(x⁺, y) + ℓ_c(x⁻, y⁻)] + w_adv · [-log a(x) - log(1 - a(x⁺))
        - log(1 - a(x⁻))] + w_unlabelled_adv · (-log a(x_u))``, each
        bracket summed over the triplet's images and averaged over
        triplets;
      - G (CNN and D frozen): ``w_gen_adv · [-log a(x⁺) - log a(x⁻)] +
        w_gen_cls · [ℓ_c(x⁺, y) + ℓ_c(x⁻, y⁻)] + w_gen_triplet · ℓ_tri +
        w_gen_gan · L_G(x⁺, x⁻)``.

    ``triplets='real'`` is the no-synthetic-data ablation: the same CNN
    trained with the triplet loss over every valid triplet of the
    labelled batch (:func:`triplet_ranking_loss`) and the classification
    loss; G and D are never stepped, unlabelled images are unused.

    Margin, weights, schedule: knobs (the paper's values are unknown,
    spec §4.2 [?]).

    Args:
        generator (dict): Conditional generator config.
        discriminator (dict): AC discriminator config.
        hasher (dict): :class:`ThreeStreamHashNet` config.
        data_preprocessor (dict, optional): Defaults to pixels in
            [-1, 1] (the generator's range), BGR to RGB.
        multi_label (bool): Sigmoid classification (multi-label data)
            instead of softmax. Defaults to False.
        triplets (str): ``'synthetic'`` (DSH-GANs) or ``'real'``.
        margin (float): Triplet margin m (squared L2 of sigmoid codes).
            Defaults to 1.0 (DNNH's value [?]).
        loss_weights (dict, optional): Overrides of :data:`LOSS_WEIGHTS`.
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
                 triplets: str = 'synthetic',
                 margin: float = 1.0,
                 loss_weights: Optional[dict] = None,
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
        if triplets not in TRIPLET_SOURCES:
            raise ValueError(f'DSHGANs: triplets must be one of '
                             f'{TRIPLET_SOURCES}, got {triplets!r}')
        unknown = set(loss_weights or {}) - set(LOSS_WEIGHTS)
        if unknown:
            raise ValueError(f'DSHGANs: unknown loss_weights {sorted(unknown)}'
                             f'; known: {sorted(LOSS_WEIGHTS)}')
        for name, value in (('pretrain_iters', pretrain_iters),
                            ('hasher_steps', hasher_steps)):
            if not isinstance(value, int) or value < (name == 'hasher_steps'):
                raise ValueError(f'DSHGANs: {name}={value!r} is not a valid '
                                 'step count')
        if triplets == 'real' and pretrain_iters:
            raise ValueError("DSHGANs: triplets='real' trains no GAN; set "
                             'pretrain_iters=0')
        self.hasher = MODELS.build(hasher)
        if self.hasher.num_classes != self.num_classes:
            raise ValueError(
                f'DSHGANs: hasher.num_classes={self.hasher.num_classes} but '
                f'generator.num_classes={self.num_classes}')
        if triplets == 'real':
            # The ablation has no synthetic images to tell apart: the
            # adversary stream gets no gradient. Frozen, DDP does not wait
            # for its gradient (find_unused_parameters=False stays valid).
            set_requires_grad(self.hasher.adversary, False)
        self.multi_label = multi_label
        self.triplets = triplets
        self.margin = margin
        self.loss_weights = {**LOSS_WEIGHTS, **(loss_weights or {})}
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
        return label_loss(logits, labels, self.multi_label)

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

    def cnn_losses(self, reals: torch.Tensor, labels: torch.Tensor,
                   unlabelled: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Hashing-CNN losses on synthetic triplets of the labelled reals
        (and the unlabelled reals' adversary term)."""
        w = self.loss_weights
        n = len(reals)
        with torch.no_grad():
            fakes, negatives = self.make_triplet_fakes(labels)
        codes, adv, cls = self._streams(torch.cat([reals, fakes,
                                                   unlabelled]))
        h, h_pos, h_neg = codes[:n], codes[n:2 * n], codes[2 * n:3 * n]
        targets = torch.cat([labels, labels, negatives])
        real_fake = adv.new_zeros(3 * n)  # made on the device: no copy
        real_fake[:n] = 1.
        adv_each = F.binary_cross_entropy_with_logits(
            adv[:3 * n], real_fake, reduction='none')
        losses = dict(
            loss_triplet=w['triplet'] * triplet_hinge(h, h_pos, h_neg,
                                                      self.margin),
            loss_cls=w['cls'] * self._label_loss(
                cls[:3 * n], targets).view(3, n).sum(0).mean(),
            loss_adv=w['adv'] * adv_each.view(3, n).sum(0).mean())
        if len(unlabelled) and w['unlabelled_adv']:
            losses['loss_adv_unlabelled'] = w['unlabelled_adv'] * (
                adversarial_loss(adv[3 * n:], True, 'vanilla'))
        return losses

    def real_triplet_losses(self, reals: torch.Tensor, labels: torch.Tensor
                            ) -> Dict[str, torch.Tensor]:
        """The ablation's CNN losses: batch triplets of real images."""
        w = self.loss_weights
        codes, _, cls = self._streams(reals)
        return dict(
            loss_triplet=w['triplet'] * triplet_ranking_loss(
                codes, labels, self.margin),
            loss_cls=w['cls'] * self._label_loss(cls, labels).mean())

    def joint_gen_losses(self, reals: torch.Tensor, labels: torch.Tensor
                         ) -> Dict[str, torch.Tensor]:
        """Generator losses on fresh triplet fakes (CNN and D frozen by
        the caller). The reals go through the CNN in the same batch, as
        in the CNN step, so its batch statistics match."""
        w = self.loss_weights
        n = len(reals)
        fakes, negatives = self.make_triplet_fakes(labels)
        codes, adv, cls = self._streams(torch.cat([reals, fakes]))
        targets = torch.cat([labels, negatives])
        losses = dict(
            loss_gen_adv=w['gen_adv'] * F.binary_cross_entropy_with_logits(
                adv[n:], torch.ones_like(adv[n:]),
                reduction='none').view(2, n).sum(0).mean(),
            loss_gen_cls_cnn=w['gen_cls'] * self._label_loss(
                cls[n:], targets).view(2, n).sum(0).mean())
        if w['gen_triplet']:
            losses['loss_gen_triplet'] = w['gen_triplet'] * triplet_hinge(
                codes[:n].detach(), codes[n:2 * n], codes[2 * n:],
                self.margin)
        if w['gen_gan']:
            losses.update(self.gan_gen_losses(fakes, targets, w['gen_gan']))
        return losses

    # ------------------------------------------------------------------
    # Training
    def _update(self, optim_wrapper, module, loss_fn: Callable[[], dict],
                frozen: Sequence = ()) -> Dict[str, torch.Tensor]:
        """One update of ``module``'s optimizer on ``loss_fn()`` with the
        ``frozen`` modules' parameters excluded; log vars without the
        total."""
        set_requires_grad(list(frozen), False)
        try:
            with optim_wrapper.optim_context(module):
                losses = loss_fn()
            parsed, log_vars = self.parse_losses(losses)
            optim_wrapper.update_params(parsed)
        finally:
            set_requires_grad(list(frozen), True)
        log_vars.pop('loss', None)
        return log_vars

    def _steps(self, count: int, step: Callable[[], dict]) -> dict:
        return gather_log_vars([step() for _ in range(count)])

    def split_batch(self, inputs: torch.Tensor,
                    data_samples: Sequence[DataSample]):
        """``(labelled images, their (N, C) multi-hot labels, unlabelled
        images)``; unlabelled samples' labels are never read."""
        labelled, unlabelled = split_labelled(data_samples)
        if not labelled:
            raise ValueError('DSHGANs: the batch holds no labelled sample')
        samples = [data_samples[i] for i in labelled]
        if any(s.gt_label.numel() == 0 for s in samples):  # shapes: no sync
            raise ValueError('DSHGANs: a labelled sample has no label')
        labels = labels_to_multihot(samples, self.num_classes, inputs.device)
        return (select_rows(inputs, labelled), labels,
                select_rows(inputs, unlabelled))

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
        if self.triplets == 'real':
            return self._steps(self.hasher_steps, lambda: self._update(
                hash_ow, self.hasher,
                lambda: self.real_triplet_losses(reals, labels)))

        log_vars = {}
        pretraining = curr_iter < self.pretrain_iters
        if pretraining or self.loss_weights['gen_gan']:
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
            codes = self.hasher(inputs, mode='codes').detach()
            if data_samples is None:
                data_samples = [DataSample() for _ in range(len(codes))]
            for sample, code in zip(data_samples, codes):
                sample.set_field(code, 'hash_code', field_type='data')
            return data_samples
        if mode == 'loss':
            raise RuntimeError('DSHGANs trains through train_step (an '
                               'OptimWrapperDict with generator, '
                               'discriminator and hasher)')
        raise RuntimeError(f'Invalid mode "{mode}".')
