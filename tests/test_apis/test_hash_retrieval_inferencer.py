"""HashRetrievalInferencer and inference_model: mmpretrain's inferencer
conventions over HashEncoder + BinaryIndex, on real MNIST-5k digits with
the DPSH LeNet-5 config (untrained, seeded weights saved as a checkpoint).

Every result is checked against the lower layer used by hand: the same
HashEncoder codes searched by a BinaryIndex (same ids, distances, order).
"""
import os
import os.path as osp

import mmcv
import numpy as np
import pytest
import torch
from PIL import Image

from hashplugins.apis import (BinaryIndex, HashEncoder,
                              HashRetrievalInferencer, IndexFileError,
                              inference_model)

CONFIG = 'configs/dpsh/dpsh_lenet5_mnist5k_16bit.py'
NUM_BITS = 16
# Database positions of the digits written as prototype / query PNGs.
PROTO_POS = [0, 150, 400, 700, 950, 1300, 1800, 2500, 3100, 3900]
QUERY_POS = [5, 160, 2000]
# A small real dataset config (the first 12 MNIST-5k query digits).
SMALL_DATASET = dict(
    type='MNIST5kHashing',
    split='query',
    protocol='b',
    seed=0,
    three_channels=False,
    indices=12)


@pytest.fixture(scope='module')
def model_files(tmp_path_factory, repo_root):
    torch.manual_seed(0)
    encoder = HashEncoder(osp.join(repo_root, CONFIG), device='cpu')
    path = str(tmp_path_factory.mktemp('ckpt') / 'lenet_untrained.pth')
    torch.save(dict(state_dict=encoder.model.state_dict()), path)
    return osp.join(repo_root, CONFIG), path


@pytest.fixture(scope='module')
def encoder(model_files):
    config, ckpt = model_files
    return HashEncoder(config, ckpt, device='cpu')


@pytest.fixture(scope='module')
def digits(tmp_path_factory, encoder):
    """``(prototype folder, query folder)`` of real MNIST-5k digits as PNG
    (from the config's database; the prototype in class sub-folders)."""
    dataset = encoder.build_dataset()  # QueryDatabaseDataset, in memory
    num_q = len(dataset.query)
    root = tmp_path_factory.mktemp('digits')
    folders = []
    for name, positions in (('prototype', PROTO_POS), ('queries', QUERY_POS)):
        for pos in positions:
            info = dataset.get_data_info(num_q + pos)
            label = int(np.asarray(info['gt_label']).reshape(-1)[0])
            sub = root / name / (str(label) if name == 'prototype' else '')
            sub.mkdir(parents=True, exist_ok=True)
            mmcv.imwrite(np.asarray(info['img']), str(sub / f'd{pos}.png'))
        folders.append(str(root / name))
    return folders


@pytest.fixture(scope='module')
def folder_inferencer(model_files, digits):
    config, ckpt = model_files
    return HashRetrievalInferencer(
        config,
        prototype=digits[0],
        pretrained=ckpt,
        device='cpu',
        backend='exact',
        progress=False)


def by_hand(encoder, prototype_out, queries, k=None, radius=None):
    """Search the encoder's codes with a BinaryIndex: per query
    ``(ids, distances, positions)``."""
    index = BinaryIndex(NUM_BITS, backend='exact')
    index.add(prototype_out.packed, ids=prototype_out.ids)
    q = encoder(queries, split='query', progress=False)
    if radius is None:
        res = index.search(q.codes, k)
        return [(res.ids[i], res.distances[i], res.positions[i])
                for i in range(len(q.codes))]
    ball = index.range_search(q.codes, radius)
    return [tuple(ball.query(i)) for i in range(len(q.codes))]


def hits(results):
    """``(sample_idx, distance)`` of every match of every query."""
    return [[(m['sample_idx'], m['distance']) for m in r] for r in results]


def assert_same(results, expected, prototype_out):
    assert len(results) == len(expected)
    for matches, (ids, dist, pos) in zip(results, expected):
        assert [m['sample_idx'] for m in matches] == ids.tolist()
        assert [m['distance'] for m in matches] == dist.tolist()
        for m, p in zip(matches, pos):
            assert m['match_score'] == 1 - m['distance'] / NUM_BITS
            np.testing.assert_array_equal(m['hash_code'],
                                          prototype_out.codes[p])
            assert m['hash_code'].dtype == np.int8


def test_folder_prototype_equals_encoder_and_index(folder_inferencer, encoder,
                                                   digits):
    proto = encoder(digits[0], split='database', progress=False)
    assert len(folder_inferencer.prototype_index) == len(PROTO_POS)
    results = folder_inferencer(
        digits[1], topk=4, batch_size=2, progress=False)
    assert_same(results, by_hand(encoder, proto, digits[1], k=4), proto)
    paths = sorted(p for p in proto.paths)
    for matches in results:
        for m in matches:
            assert m['sample']['img_path'] == paths[m['sample_idx']]
            assert set(m['sample']) == {'img_path'}  # folder: no labels
    # a single file, and an array, are one query each (mmpretrain's default
    # topk=1)
    one = sorted(os.listdir(digits[1]))[0]
    single = folder_inferencer(osp.join(digits[1], one), progress=False)
    assert len(single) == 1 and len(single[0]) == 1
    assert single[0][0]['sample_idx'] == results[0][0]['sample_idx']
    array = mmcv.imread(osp.join(digits[1], one), flag='grayscale')
    assert hits(folder_inferencer(array, progress=False)) == hits(single)


def test_radius_equals_range_search(folder_inferencer, encoder, digits):
    proto = encoder(digits[0], split='database', progress=False)
    for radius in (0, 3, 6, NUM_BITS):
        results = folder_inferencer(digits[1], radius=radius, progress=False)
        expected = by_hand(encoder, proto, digits[1], radius=radius)
        assert_same(results, expected, proto)
        assert all(m['distance'] <= radius for r in results for m in r)
    # radius and topk: the first topk hits of the ball
    capped = folder_inferencer(
        digits[1], radius=NUM_BITS, topk=2, progress=False)
    expected = by_hand(encoder, proto, digits[1], radius=NUM_BITS)
    assert_same(capped, [tuple(a[:2] for a in e) for e in expected], proto)


def test_topk_larger_than_prototype_is_clipped(folder_inferencer, encoder,
                                               digits):
    """As BinaryIndex.search: clipped to the prototype size."""
    proto = encoder(digits[0], split='database', progress=False)
    results = folder_inferencer(digits[1], topk=1000, progress=False)
    assert all(len(r) == len(PROTO_POS) for r in results)
    assert_same(results, by_hand(encoder, proto, digits[1], k=len(PROTO_POS)),
                proto)


def test_index_file_and_binary_index_prototypes(model_files, encoder, digits,
                                                folder_inferencer, tmp_path):
    config, ckpt = model_files
    proto = encoder(digits[0], split='database', progress=False)
    index = encoder.new_index(backend='exact')
    index.add(proto.packed, ids=proto.ids + 100, paths=proto.paths)
    path = str(tmp_path / 'digits.index.npz')
    index.save(path)
    expected = by_hand(
        encoder, proto._replace(ids=proto.ids + 100), digits[1], k=5)
    for prototype in (path, BinaryIndex.load(path)):
        inferencer = HashRetrievalInferencer(
            config,
            prototype=prototype,
            pretrained=ckpt,
            device='cpu',
            progress=False)
        results = inferencer(digits[1], topk=5, progress=False)
        assert_same(results, expected, proto)
        assert results[0][0]['sample']['img_path'] == \
            proto.paths[expected[0][2][0]]
    # the same as the folder prototype (ids shifted by 100)
    from_folder = folder_inferencer(digits[1], topk=5, progress=False)
    assert [[m['sample_idx'] + 100 for m in r] for r in from_folder] == \
        [[m['sample_idx'] for m in r] for r in results]


def test_dataset_config_prototype(model_files, encoder, digits, tmp_path):
    config, ckpt = model_files
    inferencer = HashRetrievalInferencer(
        config,
        prototype=dict(SMALL_DATASET),
        pretrained=ckpt,
        device='cpu',
        progress=False)
    ref = encoder.encode_dataset(
        dict(SMALL_DATASET, pipeline=encoder.pipeline_cfg),
        split='database',
        progress=False)
    assert len(inferencer.prototype_index) == 12
    results = inferencer(digits[1], topk=6, progress=False)
    assert_same(results, by_hand(encoder, ref, digits[1], k=6), ref)
    for matches in results:
        for m in matches:  # labels of the dataset, no files (in memory)
            assert m['sample'] == dict(
                gt_label=np.flatnonzero(ref.labels[m['sample_idx']]).tolist())
    assert inferencer.prototype_index.meta['classes'] == [
        str(i) for i in range(10)
    ]
    # the config's own query/database dataset: its database part
    cfg_dataset = inferencer.encoder.cfg.test_dataloader.dataset
    cache = str(tmp_path / 'db.index.npz')
    full = HashRetrievalInferencer(
        config,
        prototype=cfg_dataset,
        prototype_cache=cache,
        pretrained=ckpt,
        device='cpu',
        progress=False)
    assert len(full.prototype_index) == 4000
    assert full.prototype_index.ids[0] == 1000  # after the 1,000 queries
    # saved as tools/encode.py would (tools/retrieve.py can draw it)
    saved = BinaryIndex.load(cache)
    assert saved.meta['source'] == dict(
        kind='dataset', dataloader='test_dataloader', split='database')
    db = encoder.encode_dataset(
        split='database', progress=False, batch_size=256)
    np.testing.assert_array_equal(saved.codes, db.packed)


def test_prototype_cache_written_then_read(model_files, digits, tmp_path,
                                           monkeypatch):
    config, ckpt = model_files
    cache = str(tmp_path / 'proto.index.npz')
    first = HashRetrievalInferencer(
        config,
        prototype=digits[0],
        prototype_cache=cache,
        pretrained=ckpt,
        device='cpu',
        progress=False)
    assert osp.isfile(cache)
    expected = first(digits[1], topk=3, progress=False)
    # read back without encoding the prototype again
    calls = []
    original = HashEncoder.__call__

    def counting(self, inputs, *args, **kwargs):
        calls.append(kwargs.get('split'))
        return original(self, inputs, *args, **kwargs)

    monkeypatch.setattr(HashEncoder, '__call__', counting)
    second = HashRetrievalInferencer(
        config,
        prototype=digits[0],
        prototype_cache=cache,
        pretrained=ckpt,
        device='cpu',
        progress=False)
    assert calls == []
    monkeypatch.undo()
    assert hits(second(digits[1], topk=3, progress=False)) == hits(expected)
    # a stale cache is refused: other images, or another checkpoint
    fewer = str(tmp_path / 'fewer')
    os.makedirs(fewer)
    for name in sorted(os.listdir(digits[1]))[:2]:
        os.link(osp.join(digits[1], name), osp.join(fewer, name))
    with pytest.raises(
            ValueError,
            match='holds 10 codes but the prototype '
            'has 2 items: delete it'):
        HashRetrievalInferencer(
            config,
            prototype=fewer,
            prototype_cache=cache,
            pretrained=ckpt,
            device='cpu',
            progress=False)
    renamed = str(tmp_path / 'renamed')
    os.makedirs(renamed)
    for i, path in enumerate(first.prototype_index.paths):
        os.link(str(path), osp.join(renamed, f'x{i}.png'))
    with pytest.raises(ValueError, match='holds other image files'):
        HashRetrievalInferencer(
            config,
            prototype=renamed,
            prototype_cache=cache,
            pretrained=ckpt,
            device='cpu',
            progress=False)
    torch.manual_seed(1)
    other = str(tmp_path / 'other.pth')
    torch.save(
        dict(state_dict=HashEncoder(config, device='cpu').model.state_dict()),
        other)
    with pytest.raises(ValueError, match='another model than the prototype'):
        HashRetrievalInferencer(
            config,
            prototype=digits[0],
            prototype_cache=cache,
            pretrained=other,
            device='cpu',
            progress=False)


def test_visualize_writes_grids(folder_inferencer, digits, model_files,
                                tmp_path):
    show_dir = str(tmp_path / 'grids')
    results = folder_inferencer(
        digits[1], topk=3, show_dir=show_dir, tile_size=40, progress=False)
    names = sorted(os.listdir(show_dir))
    assert names == sorted(f'd{p}.png' for p in QUERY_POS)
    for name in names:
        # one row: the query and its 3 results, 40 px tiles
        assert Image.open(osp.join(show_dir, name)).size == (4 * 40, 40)
    assert len(results) == len(QUERY_POS)
    # a dataset prototype draws its in-memory images; arrays are named by
    # position
    config, ckpt = model_files
    inferencer = HashRetrievalInferencer(
        config,
        prototype=dict(SMALL_DATASET),
        pretrained=ckpt,
        device='cpu',
        progress=False)
    query = mmcv.imread(
        osp.join(digits[1], f'd{QUERY_POS[0]}.png'), flag='grayscale')
    other = str(tmp_path / 'grids2')
    inferencer([query, query],
               radius=NUM_BITS,
               show_dir=other,
               tile_size=32,
               progress=False)
    assert sorted(os.listdir(other)) == ['0.png', '1.png']
    grid = np.asarray(Image.open(osp.join(other, '0.png')))
    assert grid.shape == (32, 13 * 32, 3)  # the query + all 12 items
    assert (grid[8:24, 13 * 32 - 24:13 * 32 - 8] != 255).any()  # not blank
    with pytest.raises(NotImplementedError, match='show_dir'):
        folder_inferencer(digits[1], show=True, progress=False)


def test_return_datasamples(folder_inferencer, encoder, digits):
    samples = folder_inferencer(
        digits[1], topk=2, return_datasamples=True, progress=False)
    queries = encoder(digits[1], progress=False)
    assert len(samples) == len(QUERY_POS)
    for i, sample in enumerate(samples):
        np.testing.assert_array_equal(sample.hash_code.numpy(),
                                      queries.codes[i])
        assert sample.img_path == queries.paths[i]
        assert sample.match_ids.shape == (2, )
        assert torch.equal(sample.match_scores,
                           1 - sample.match_distances.double() / NUM_BITS)


def test_inference_model_and_mmpretrain_get_model(model_files, encoder, digits,
                                                  tmp_path):
    """get_model builds our models; our inference_model and the inferencer
    take them; mmpretrain's own inference_model / ImageRetrievalInferencer
    cannot (documented in docs/retrieval.md)."""
    from mmpretrain.apis import ImageRetrievalInferencer, get_model
    from mmpretrain.apis import inference_model as mmpretrain_inference
    config, ckpt = model_files
    expected = encoder(digits[1], progress=False)
    model = get_model(config, pretrained=ckpt, device='cpu')
    for m in (model, config, encoder):
        out = inference_model(m, digits[1], pretrained=ckpt)
        np.testing.assert_array_equal(out.codes, expected.codes)
        assert out.paths == expected.paths
    index = encoder.new_index()
    proto = encoder(digits[0], split='database', progress=False)
    index.add(proto.packed, paths=proto.paths)
    path = str(tmp_path / 'p.index.npz')
    index.save(path)
    # a get_model model records no checkpoint file: the inferencer warns
    # that it cannot check the index's checkpoint, and the config hash
    # equals the config file's
    with pytest.warns(UserWarning, match='cannot check'):
        inferencer = HashRetrievalInferencer(
            model, prototype=path, progress=False)
    assert inferencer._meta['config_hash'] == index.config_hash
    assert_same(
        inferencer(digits[1], topk=3, progress=False),
        by_hand(encoder, proto, digits[1], k=3), proto)
    image = osp.join(digits[1], f'd{QUERY_POS[0]}.png')
    with pytest.raises(NotImplementedError, match='No available inferencer'):
        mmpretrain_inference(model, image)
    with pytest.raises(AttributeError, match='prepare_prototype'):
        ImageRetrievalInferencer(model, prototype=[image], pretrained=False)


@pytest.fixture
def registered_name(model_files, tmp_path):
    """A model index entry registered with mmpretrain's ModelHub (the way
    the project's model-index.yml will be), removed afterwards."""
    from mmpretrain.apis import ModelHub
    config, ckpt = model_files
    name = 'hashplugins-test_dpsh_lenet5_mnist5k_16bit'
    metafile = tmp_path / 'metafile.yml'
    metafile.write_text('Models:\n'
                        f'  - Name: {name}\n'
                        '    Metadata:\n'
                        '      Architecture: [DeepHasher, HashHead]\n'
                        '    Results:\n'
                        '      - Task: Image Retrieval\n'
                        '        Dataset: MNIST-5k\n'
                        '        Metrics: {mAP: 0.0}\n'
                        f'    Config: {config}\n'
                        f'    Weights: {ckpt}\n')
    ModelHub._register_mmpretrain_models()
    ModelHub.register_model_index(str(metafile))
    yield name
    ModelHub._models_dict.pop(name, None)


def test_model_name_through_modelhub(registered_name, encoder, digits):
    from mmpretrain.apis import get_model, list_models
    from mmpretrain.apis import inference_model as mmpretrain_inference
    assert list_models('hashplugins-test') == [registered_name]
    assert HashRetrievalInferencer.list_models('hashplugins-test') == [
        registered_name
    ]
    assert not any(
        n.startswith('resnet') for n in HashRetrievalInferencer.list_models())
    proto = encoder(digits[0], split='database', progress=False)
    # the name gives the config and (pretrained=True) its weights
    inferencer = HashRetrievalInferencer(
        registered_name, prototype=digits[0], device='cpu', progress=False)
    assert_same(
        inferencer(digits[1], topk=3, progress=False),
        by_hand(encoder, proto, digits[1], k=3), proto)
    out = inference_model(registered_name, digits[1])
    np.testing.assert_array_equal(out.codes,
                                  encoder(digits[1], progress=False).codes)
    model = get_model(registered_name, pretrained=True)
    assert type(model).__name__ == 'DeepHasher'
    image = osp.join(digits[1], f'd{QUERY_POS[0]}.png')
    # mmpretrain dispatches the task 'Image Retrieval' to its own
    # ImageRetrievalInferencer, which hashers cannot serve
    with pytest.raises(TypeError, match='prototype'):
        mmpretrain_inference(registered_name, image)
    with pytest.raises(AttributeError, match='prepare_prototype'):
        mmpretrain_inference(registered_name, image, prototype=[image])


def test_bad_inputs(model_files, folder_inferencer, encoder, digits, tmp_path):
    from hashplugins.engine.runner.checkpoint_fit import \
        CheckpointMismatchError
    config, ckpt = model_files
    kw = dict(pretrained=ckpt, device='cpu', progress=False)
    with pytest.raises(FileNotFoundError, match='prototype .*nope'):
        HashRetrievalInferencer(config, prototype=str(tmp_path / 'nope'), **kw)
    with pytest.raises(TypeError, match='prototype must be .*got int'):
        HashRetrievalInferencer(config, prototype=3, **kw)
    with pytest.raises(ValueError, match='prototype list is empty'):
        HashRetrievalInferencer(config, prototype=[], **kw)
    empty = tmp_path / 'empty'
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match='holds no images'):
        HashRetrievalInferencer(config, prototype=str(empty), **kw)
    # an index of another code length: file and object
    other = BinaryIndex(32)
    other.add(np.ones((2, 32), np.int8))
    other.save(str(tmp_path / 'b32.index.npz'))
    with pytest.raises(IndexFileError, match='b32.index.npz'):
        HashRetrievalInferencer(
            config, prototype=str(tmp_path / 'b32.index.npz'), **kw)
    with pytest.raises(
            ValueError, match='32-bit codes; the model makes '
            '16-bit'):
        HashRetrievalInferencer(config, prototype=other, **kw)
    # models
    with pytest.raises(FileNotFoundError, match='missing.py'):
        HashRetrievalInferencer(
            'configs/missing.py', prototype=digits[0], **kw)
    with pytest.raises(
            ValueError,
            match='not a model name known to '
            'mmpretrain.apis.ModelHub'):
        HashRetrievalInferencer('no-such-model', prototype=digits[0], **kw)
    with pytest.raises(TypeError, match='carries no config'):
        inference_model(_bare_model(encoder), digits[1])
    bad = str(tmp_path / 'bad.pth')
    state = dict(encoder.model.state_dict())
    state.pop(next(k for k in state if k.startswith('head.')))
    torch.save(dict(state_dict=state), bad)
    with pytest.raises(CheckpointMismatchError, match='bad.pth'):
        HashRetrievalInferencer(
            config, prototype=digits[0], **dict(kw, pretrained=bad))
    with pytest.warns(UserWarning, match='no checkpoint'):
        inference_model(config, digits[1])  # pretrained=True, no load_from
    # calls
    with pytest.raises(ValueError, match='unknown argument'):
        folder_inferencer(digits[1], top_k=3)
    with pytest.raises(ValueError, match='k must be a positive integer'):
        folder_inferencer(digits[1], topk=0, progress=False)
    with pytest.raises(ValueError, match='topk must be a positive integer'):
        folder_inferencer(digits[1], radius=2, topk=-1, progress=False)
    with pytest.raises(ValueError, match='radius must be a non-negative'):
        folder_inferencer(digits[1], radius=-1, progress=False)
    with pytest.raises(ValueError, match='no query images'):
        folder_inferencer([], progress=False)
    with pytest.raises(FileNotFoundError, match='does not exist'):
        folder_inferencer(str(tmp_path / 'missing.png'), progress=False)


def _bare_model(encoder):
    """A model object built without mmpretrain.apis.get_model (no
    ``_config``)."""
    from mmpretrain.registry import MODELS
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MODELS.build(encoder.cfg.model)
