"""The encoding loop's cheap paths give what the plain loop gives.

``HashEncoder`` stacks a batch's images into one tensor for mmpretrain's
``ClsDataPreprocessor`` (``stack_collate``), reads codes and labels to the
host once per batch (``_batch_bits``, ``_LabelColumn``) and takes image
paths from the samples' ``img_path``. Each is checked here against a
straightforward reference: ``pseudo_collate`` batches through the real
LeNet-5 model, a per-row multi-hot loop, ``dataset.get_data_info(i)``.
The ``encoder`` fixture is in this folder's ``conftest.py``.
"""
import numpy as np
import pytest
import torch
from encoder_helpers import lenet_items
from mmengine.dataset import pseudo_collate
from mmengine.model import BaseDataPreprocessor
from mmpretrain.models.utils import ClsDataPreprocessor
from PIL import Image

from hashplugins.apis.hash_encoder import _LabelColumn, stack_collate

NUM_LIST_CLASSES = 12  # wider than the head's 10 classes
# image -> positive classes (multi-label, one empty row, one class >= 10)
LIST = [
    ('a.png', [3]),
    ('b.png', [0, 5, 7]),
    ('c.png', []),
    ('sub/d.png', [11]),
    ('sub/e.png', [1, 2]),
    ('f.png', [9]),
    ('g.png', [4, 10]),
]


@pytest.fixture(scope='module')
def list_root(tmp_path_factory):
    """A multi-label list dataset of gray PNGs on disk."""
    root = tmp_path_factory.mktemp('list')
    rng = np.random.default_rng(0)
    lines = []
    for name, labels in LIST:
        path = root / 'images' / name
        path.parent.mkdir(parents=True, exist_ok=True)
        size = (28, 28) if len(lines) % 2 else (32, 32)
        Image.fromarray(rng.integers(0, 256, size, dtype=np.uint8)).save(path)
        vec = ['1' if k in labels else '0' for k in range(NUM_LIST_CLASSES)]
        lines.append(f'{name} {" ".join(vec)}')
    (root / 'list.txt').write_text('\n'.join(lines) + '\n')
    return root


def _list_dataset(encoder, root, meta_keys=None):
    pack = dict(type='PackHashInputs')
    if meta_keys is not None:
        pack['meta_keys'] = meta_keys
    return encoder.build_dataset(
        dict(
            type='HashingListDataset',
            ann_file=str(root / 'list.txt'),
            num_classes=NUM_LIST_CLASSES,
            data_root=str(root / 'images'),
            allow_empty_labels=True,
            pipeline=[
                dict(type='LoadImageFromFile', color_type='grayscale'),
                dict(type='Resize', scale=(32, 32)),
                pack,
            ]))


def _reference_multihot(labels, min_width):
    """The per-row loop the encoder used to run."""
    if any(lab is None for lab in labels):
        return None
    labels = [np.asarray(lab, dtype=np.int64).reshape(-1) for lab in labels]
    width = max((int(lab.max()) + 1 for lab in labels if lab.size),
                default=1)
    width = max(width, min_width)
    out = np.zeros((len(labels), width), dtype=np.uint8)
    for row, lab in zip(out, labels):
        row[lab] = 1
    return out


def _reference_encode(encoder, dataset, batch_size, split='database'):
    """Codes, multi-hot labels and paths from pseudo_collate batches, one
    sample at a time on the host (the previous loop, spelt out)."""
    codes, labels = [], []
    for start in range(0, len(dataset), batch_size):
        batch = [dataset[i] for i in
                 range(start, min(start + batch_size, len(dataset)))]
        data = pseudo_collate(batch)
        for sample in data['data_samples']:
            sample.set_metainfo(dict(split=split))
        with torch.no_grad():
            out = encoder.model.test_step(data)
        for sample in out:
            codes.append(np.where(sample.hash_code.numpy() >= 0, 1, -1))
            lab = sample.get('gt_label')
            labels.append(None if lab is None else lab.numpy())
    codes = np.stack(codes).astype(np.int8)
    paths = [
        str(dataset.get_data_info(i).get('img_path', ''))
        for i in range(len(dataset))
    ] if hasattr(dataset, 'get_data_info') else [''] * len(dataset)
    return codes, _reference_multihot(labels, 10), paths


# ------------------------------------------------------------ collate


def test_stack_collate_stacks_one_shape():
    items = lenet_items(5)
    data = stack_collate(items)
    assert isinstance(data['inputs'], torch.Tensor)
    assert data['inputs'].shape == (5, 1, 32, 32)
    torch.testing.assert_close(data['inputs'],
                               torch.stack([it['inputs'] for it in items]),
                               rtol=0, atol=0)
    assert data['data_samples'] == [it['data_samples'] for it in items]


@pytest.mark.parametrize('change', ['shape', 'dtype'])
def test_stack_collate_leaves_mixed_inputs_a_list(change):
    items = lenet_items(4)
    if change == 'shape':
        items[2]['inputs'] = torch.zeros(1, 28, 28, dtype=torch.uint8)
    else:
        items[2]['inputs'] = items[2]['inputs'].float()
    data = stack_collate(items)
    assert isinstance(data['inputs'], list)
    assert all(a is it['inputs'] for a, it in zip(data['inputs'], items))


def test_stack_collate_passes_other_batches():
    assert stack_collate([1, 2]) == pseudo_collate([1, 2])


def test_stacked_and_list_batches_give_identical_codes(encoder):
    items = lenet_items(9)
    outs = []
    for collate in (pseudo_collate, stack_collate):
        data = collate(lenet_items(9))
        assert isinstance(data['inputs'],
                          list if collate is pseudo_collate else torch.Tensor)
        with torch.no_grad():
            outs.append(encoder.model.test_step(data))
    for a, b in zip(*outs):
        torch.testing.assert_close(a.hash_code, b.hash_code, rtol=0, atol=0)
    # and through encode_dataset, against the plain reference loop
    out = encoder.encode_dataset(items, split='all', batch_size=4,
                                 progress=False)
    codes, labels, _ = _reference_encode(encoder, items, 4)
    np.testing.assert_array_equal(out.codes, codes)
    np.testing.assert_array_equal(out.packed, np.packbits(codes > 0, axis=1))
    np.testing.assert_array_equal(out.labels, labels)


class ListOnlyPreprocessor(ClsDataPreprocessor):
    """A ClsDataPreprocessor with its own forward: not known to give the
    same values for a stacked batch."""

    def forward(self, data, training=False):
        return super().forward(data, training)


class PlainSubclass(ClsDataPreprocessor):
    """Same forward as ClsDataPreprocessor."""


def _like(cls, pre):
    return cls(mean=pre.mean.flatten().tolist(),
               std=pre.std.flatten().tolist())


@pytest.mark.parametrize('cls,stacked', [
    (None, True),
    (PlainSubclass, True),
    (ListOnlyPreprocessor, False),
    (BaseDataPreprocessor, False),
])
def test_collate_follows_the_preprocessor(encoder, cls, stacked):
    model = encoder.model
    own = pre = model.data_preprocessor
    if cls is not None:
        pre = _like(cls, pre) if issubclass(cls, ClsDataPreprocessor) \
            else cls()
    # (not monkeypatch: it would delete the submodule on undo, since
    # nn.Module keeps it in _modules, not in the instance __dict__)
    model.data_preprocessor = pre
    if cls is BaseDataPreprocessor:
        try:  # no normalization: LeNet-5 cannot run on its list
            assert encoder._collate_fn() is pseudo_collate
        finally:
            model.data_preprocessor = own
        return
    seen = []
    handle = pre.register_forward_pre_hook(
        lambda mod, args: seen.append(type(args[0]['inputs'])))
    try:
        assert encoder._collate_fn() is (stack_collate
                                         if stacked else pseudo_collate)
        out = encoder.encode_dataset(lenet_items(6), split='all', batch_size=4,
                                     progress=False)
        codes, _, _ = _reference_encode(encoder, lenet_items(6), 4)
    finally:
        handle.remove()
        model.data_preprocessor = own
    # the encoder's batches, then the reference's (always lists)
    assert seen == [torch.Tensor if stacked else list] * 2 + [list] * 2
    np.testing.assert_array_equal(out.codes, codes)


# ------------------------------------------------------------ labels


def _column(batches, as_tensor=True):
    col = _LabelColumn()
    for batch in batches:
        col.append([
            None if lab is None else
            (torch.tensor(lab, dtype=torch.int64) if as_tensor else
             np.asarray(lab, dtype=np.int64)) for lab in batch
        ])
    return col


LABEL_CASES = dict(
    single=[[[2], [0], [7]], [[1]]],
    multi=[[[0, 3], [5], [1, 2, 4]], [[6, 0]]],
    with_empty=[[[], [4, 1], []], [[3]]],
    all_empty=[[[], []], [[]]],
    empty_batch=[[[1]], [], [[0, 2]]],
)


@pytest.mark.parametrize('as_tensor', [True, False])
@pytest.mark.parametrize('min_width', [0, 5, 10])
@pytest.mark.parametrize('case', sorted(LABEL_CASES))
def test_label_column_matches_per_row_loop(case, min_width, as_tensor):
    batches = LABEL_CASES[case]
    rows = [lab for batch in batches for lab in batch]
    got = _column(batches, as_tensor).multihot(min_width)
    want = _reference_multihot(rows, min_width)
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got, want)


def test_label_column_mixed_kinds_and_devices_of_value():
    batches = [[torch.tensor([1, 3]), np.array([0]), [2]],
               [torch.tensor([4], dtype=torch.int32)]]
    col = _LabelColumn()
    for batch in batches:
        col.append(batch)
    want = _reference_multihot([np.asarray(v) for b in batches for v in b],
                               0)
    np.testing.assert_array_equal(col.multihot(), want)


@pytest.mark.parametrize('where', [0, 1, 2])
def test_label_column_none_when_a_sample_lacks_labels(where):
    batches = [[[1], [2]], [[0], [3]], [[4]]]
    batches[where] = [None] + batches[where][1:]
    assert _column(batches).multihot(10) is None


def test_encode_dataset_without_labels_gives_none(encoder):
    # (mmpretrain's preprocessor needs all or none of a batch labelled:
    # the last batch, sample 6, has none)
    out = encoder.encode_dataset(lenet_items(7, missing=(6, )), split='all',
                                 batch_size=3, progress=False)
    assert out.labels is None and out.codes.shape == (7, 16)


# ------------------------------------------------------------ paths


@pytest.mark.parametrize('meta_keys', [None, ('sample_idx', )])
def test_encode_dataset_paths_and_labels(encoder, list_root, meta_keys):
    """img_path from the pipeline (default meta keys) or, where the
    pipeline drops it, from get_data_info: the same paths either way."""
    dataset = _list_dataset(encoder, list_root, meta_keys)
    sample = dataset[0]['data_samples']
    assert ('img_path' in sample) is (meta_keys is None)
    out = encoder.encode_dataset(dataset, split='all', batch_size=3,
                                 progress=False)
    codes, labels, paths = _reference_encode(encoder, dataset, 3)
    assert paths == [
        str(dataset.get_data_info(i)['img_path']) for i in range(len(LIST))
    ]
    assert paths == [str(list_root / 'images' / name) for name, _ in LIST]
    assert out.paths == paths
    np.testing.assert_array_equal(out.ids, np.arange(len(LIST)))
    np.testing.assert_array_equal(out.codes, codes)
    np.testing.assert_array_equal(out.packed,
                                  np.packbits(codes > 0, axis=1))
    # multi-label rows, an empty row, width 12 > the head's 10 classes
    assert out.labels.shape == (len(LIST), NUM_LIST_CLASSES)
    np.testing.assert_array_equal(out.labels, labels)
    for row, (_, pos) in zip(out.labels, LIST):
        assert np.flatnonzero(row).tolist() == pos
    # a subset: paths and ids follow the positions
    part = encoder.encode_dataset(dataset, split='all', subset=[5, 1, 3],
                                  batch_size=2, progress=False)
    assert part.paths == [paths[5], paths[1], paths[3]]
    np.testing.assert_array_equal(part.ids, [5, 1, 3])
    np.testing.assert_array_equal(part.codes, codes[[5, 1, 3]])


class InMemoryDataset:
    """Gray 32x32 images held in memory (no img_path in the data infos),
    through a pipeline of PackHashInputs; counts get_data_info calls."""

    def __init__(self, num, meta_keys=None):
        from mmengine.dataset import Compose

        from hashplugins.datasets.transforms import PackHashInputs
        kwargs = {} if meta_keys is None else dict(meta_keys=meta_keys)
        self.pipeline = Compose([PackHashInputs(num_classes=10, **kwargs)])
        rng = np.random.default_rng(num)
        self.images = rng.integers(0, 256, (num, 32, 32, 1), np.uint8)
        self.calls = 0

    def __len__(self):
        return len(self.images)

    def get_data_info(self, i):
        self.calls += 1
        return dict(img=self.images[i].copy(), gt_label=i % 3, sample_idx=i)

    def __getitem__(self, i):
        return self.pipeline(self.get_data_info(i))


@pytest.mark.parametrize('meta_keys,asks',
                         [(None, False), (('sample_idx', ), True)])
def test_data_info_asked_only_where_the_pipeline_drops_paths(
        encoder, meta_keys, asks):
    """A packer that keeps img_path (its default meta keys) has packed every
    path there was: a second get_data_info per sample (a copy of an
    in-memory image) would only give ''. One that drops img_path still
    gets the paths from the data infos."""
    dataset = InMemoryDataset(7, meta_keys)
    out = encoder.encode_dataset(dataset, split='all', batch_size=3,
                                 progress=False)
    assert dataset.calls == (14 if asks else 7)  # the pipeline's own: 7
    assert out.paths == [''] * 7
    codes, labels, _ = _reference_encode(encoder, InMemoryDataset(7), 3)
    np.testing.assert_array_equal(out.codes, codes)
    np.testing.assert_array_equal(out.labels, labels)


def test_encode_dataset_in_memory_dataset_paths(encoder, list_root):
    """Data infos without img_path (in-memory images): '' per sample, as
    get_data_info gives it; a plain list of items: ''."""

    class NoPathDataset:
        def __init__(self, items):
            self.items = items

        def __len__(self):
            return len(self.items)

        def __getitem__(self, i):
            return self.items[i]

        def get_data_info(self, i):
            return dict(sample_idx=i)

    items = lenet_items(5)
    out = encoder.encode_dataset(NoPathDataset(items), split='all',
                                 batch_size=2, progress=False)
    assert out.paths == [''] * 5
    plain = encoder.encode_dataset(items, split='all', batch_size=2,
                                   progress=False)
    assert plain.paths == [''] * 5
    np.testing.assert_array_equal(out.codes, plain.codes)
