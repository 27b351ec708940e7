"""End to end on real images: a tiny real config (DPSH LeNet-5, untrained
weights saved locally) through HashEncoder, tools/encode.py,
tools/retrieve.py and tools/analysis_tools/code_stats.py."""
import glob
import importlib.util
import json
import os
import os.path as osp
import tarfile

import mmcv
import numpy as np
import pytest
import torch

from hashplugins.evaluation.functional import hamming_ranking

CONFIG = 'configs/dpsh/dpsh_lenet5_mnist5k_16bit.py'
CLASSES = ('airplane', 'cat')
PER_CLASS = 4


def _tool(repo_root, rel):
    spec = importlib.util.spec_from_file_location(
        osp.splitext(osp.basename(rel))[0], osp.join(repo_root, rel))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def image_folder(tmp_path_factory, shared_data, cache_dir):
    """<root>/<class>/*.jpg with a few CIFAR-10 test images of 2 classes,
    from the extracted cache or streamed from the shared archive."""
    root = str(tmp_path_factory.mktemp('images'))
    extracted = glob.glob(osp.join(cache_dir, 'extracted',
                                   'CIFAR-10-images-*', 'test'))
    for cls in CLASSES:
        os.makedirs(osp.join(root, cls))
    if extracted:
        for cls in CLASSES:
            names = sorted(os.listdir(osp.join(extracted[0], cls)))
            for name in names[:PER_CLASS]:
                with open(osp.join(extracted[0], cls, name), 'rb') as src, \
                        open(osp.join(root, cls, name), 'wb') as dst:
                    dst.write(src.read())
        return root
    archive = osp.join(shared_data, 'cifar10', 'CIFAR-10-images.tar.gz')
    if not osp.isfile(archive):
        pytest.skip(f'{archive} is absent')
    counts = dict.fromkeys(CLASSES, 0)
    with tarfile.open(archive, 'r:gz') as tar:
        for member in tar:
            parts = member.name.split('/')
            if len(parts) == 3 and parts[0] == 'test' and \
                    parts[1] in counts and counts[parts[1]] < PER_CLASS:
                data = tar.extractfile(member).read()
                with open(osp.join(root, parts[1], parts[2]), 'wb') as f:
                    f.write(data)
                counts[parts[1]] += 1
            if all(c == PER_CLASS for c in counts.values()):
                break
    return root


@pytest.fixture(scope='module')
def model_files(tmp_path_factory, repo_root):
    from hashplugins.apis import HashEncoder
    torch.manual_seed(0)
    encoder = HashEncoder(osp.join(repo_root, CONFIG), device='cpu')
    path = str(tmp_path_factory.mktemp('ckpt') / 'lenet_untrained.pth')
    torch.save(dict(state_dict=encoder.model.state_dict()), path)
    return osp.join(repo_root, CONFIG), path


def test_api_encode_save_load_search(image_folder, model_files, tmp_path):
    from hashplugins.apis import BinaryIndex, HashEncoder
    config, ckpt = model_files
    encoder = HashEncoder(config, ckpt, device='cpu')
    out = encoder(image_folder, batch_size=3, progress=False)
    n = len(CLASSES) * PER_CLASS
    assert out.codes.shape == (n, 16) and out.packed.shape == (n, 2)
    assert set(np.unique(out.codes)) <= {-1, 1}
    assert all(p.endswith('.jpg') for p in out.paths)
    # the same images as arrays give the same codes (gray, as the model)
    arrays = [mmcv.imread(p, flag='grayscale') for p in out.paths]
    again = encoder(arrays, batch_size=5, progress=False)
    np.testing.assert_array_equal(again.codes, out.codes)
    index = encoder.new_index(backend='exact')
    index.add(out.packed, paths=out.paths)
    path = str(tmp_path / 'folder.index.npz')
    index.save(path)
    loaded = BinaryIndex.load(path, num_bits=encoder.num_bits)
    assert loaded.config_hash == encoder.index_meta()['config_hash']
    res = loaded.search(out.codes, n)
    ref_pos, ref_dist = hamming_ranking(out.codes, out.codes)
    np.testing.assert_array_equal(res.positions, ref_pos)
    np.testing.assert_array_equal(res.distances, ref_dist)


def test_tools_end_to_end(image_folder, model_files, repo_root, tmp_path):
    config, ckpt = model_files
    index_path = str(tmp_path / 'db.index.npz')
    encode = _tool(repo_root, 'tools/encode.py')
    index = encode.main([
        config, ckpt, '--images', image_folder, '--labels-from-subdirs',
        '--out', index_path, '--device', 'cpu', '--batch-size', '3',
        '--no-progress'
    ])
    assert len(index) == len(CLASSES) * PER_CLASS
    assert index.meta['classes'] == list(CLASSES)

    retrieve = _tool(repo_root, 'tools/retrieve.py')
    grid, res_json = str(tmp_path / 'grid.png'), str(tmp_path / 'res.json')
    topk = 3
    records = retrieve.main([
        config, ckpt, index_path, '--queries', image_folder,
        '--labels-from-subdirs', '--topk', str(topk), '--grid', grid,
        '--tile-size', '48', '--out-json', res_json, '--device', 'cpu',
        '--no-progress'
    ])
    n = len(CLASSES) * PER_CLASS
    assert len(records) == n
    first = records[0]['results'][0]
    # a query that is in the index finds itself at distance 0
    assert first['distance'] == 0 and first['relevant'] is True
    assert json.load(open(res_json))['tie_break'] == 'index'
    from PIL import Image
    assert np.asarray(Image.open(grid)).shape == (n * 48, (1 + topk) * 48,
                                                  3)
    # radius search through the tool
    balls = retrieve.main([
        config, ckpt, index_path, '--queries', image_folder, '--radius',
        '0', '--backend', 'exact', '--device', 'cpu', '--no-progress'
    ])
    assert all(r['results'] and all(x['distance'] == 0
                                    for x in r['results'])
               for r in balls)

    stats_tool = _tool(repo_root, 'tools/analysis_tools/code_stats.py')
    stats_json, stats_png = str(tmp_path / 's.json'), str(tmp_path / 's.png')
    stats = stats_tool.main(
        [index_path, '--out-json', stats_json, '--out-png', stats_png])
    assert stats['num_codes'] == n and stats['num_bits'] == 16
    assert len(stats['bit_balance']['fraction_plus_one']) == 16
    assert sum(np.asarray(stats['buckets']['size_histogram_log2'])
               ) == stats['buckets']['num_buckets']
    assert osp.getsize(stats_png) > 0


@pytest.mark.parametrize('config,model_type,num_bits', [
    ('configs/tah/tah_lenet5_mnist2usps_16bit.py', 'TransferHasher', 16),
    ('configs/dadh/dadh_lenet5_mnist_16bit.py', 'DualAsymmetricHasher', 16),
    ('configs/ganreg/ganreg_r18s_cifar10-100pc_32px_12bit_cpu.py',
     'GANRegularizedHasher', 12),
])
def test_encoder_serves_every_hasher_family(config, model_type, num_bits,
                                            repo_root):
    """The predict path of each hasher family, through HashEncoder, from
    arrays, for both query and database codes (DADH reads the split)."""
    from hashplugins.apis import HashEncoder
    torch.manual_seed(0)
    encoder = HashEncoder(osp.join(repo_root, config), device='cpu')
    assert type(encoder.model).__name__ == model_type
    shape = (3, 28, 28, 3) if encoder.color_type == 'color' else (3, 28, 28)
    rng = np.random.default_rng(0)
    images = list(rng.integers(0, 256, shape, dtype=np.uint8))
    for split in ('query', 'database'):
        out = encoder(images, batch_size=2, split=split, progress=False)
        assert out.codes.shape == (3, num_bits)
        assert out.packed.shape == (3, (num_bits + 7) // 8)
    with pytest.raises(ValueError, match='split must be'):
        encoder(images, split='train')
