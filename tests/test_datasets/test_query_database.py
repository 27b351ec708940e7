"""QueryDatabaseDataset: one evaluation set, samples tagged by split."""
import warnings

import pytest
from mmpretrain.registry import DATASETS

from hashplugins.datasets import QueryDatabaseDataset

PROTOCOL = dict(num_query_per_class=2, num_train_per_class=3, database='rest')


def _part(root, split, **kwargs):
    cfg = dict(
        type='ImageFolderDomain',
        data_root=root,
        split=split,
        protocol=PROTOCOL)
    cfg.update(kwargs)
    return cfg


@pytest.fixture
def root(image_tree, tmp_cache):
    return image_tree({'cat': 8, 'dog': 9}, size=6)


def test_tags_lengths_and_indices(root):
    ds = DATASETS.build(
        dict(
            type='QueryDatabaseDataset',
            query=_part(root, 'query'),
            database=_part(root, 'database'),
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='PackHashInputs', num_classes=2)
            ]))
    assert (ds.num_query, ds.num_database, len(ds)) == (4, 7, 11)
    assert ds.metainfo['classes'] == ('cat', 'dog')
    assert (ds.metainfo['num_query'], ds.metainfo['num_database']) == (4, 7)
    tags = [ds.get_data_info(i)['split'] for i in range(len(ds))]
    assert tags == ['query'] * 4 + ['database'] * 7
    info = ds.get_data_info(5)
    assert info['sample_idx'] == 5 and info['split_index'] == 1
    assert info['pool_index'] == ds.database.get_data_info(1)['pool_index']
    assert ds.get_data_info(-1)['sample_idx'] == 10
    with pytest.raises(IndexError):
        ds.get_data_info(11)
    assert ds.get_cat_ids(0) == ds.query.get_cat_ids(0)
    sample = ds[6]['data_samples']
    assert sample.split == 'database' and sample.sample_idx == 6
    assert ds[0]['data_samples'].split == 'query'


def test_accepts_instances_and_warns_on_sub_pipelines(root):
    query = DATASETS.build(_part(root, 'query'))
    with pytest.warns(
            UserWarning, match='database dataset has its own '
            'pipeline.*ignored'):
        ds = QueryDatabaseDataset(
            query=query,
            database=_part(
                root, 'database', pipeline=[dict(type='LoadImageFromFile')]))
    assert len(ds) == 11
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        QueryDatabaseDataset(query=query, database=query)


def test_class_mismatch_is_refused(root, image_tree):
    other = image_tree({'cat': 8, 'cow': 8}, subdir='other')
    with pytest.raises(ValueError, match='different classes'):
        QueryDatabaseDataset(
            query=_part(root, 'query'), database=_part(other, 'database'))
    with pytest.raises(TypeError, match='config dict or a dataset'):
        QueryDatabaseDataset(query=[1, 2], database=_part(root, 'database'))


def test_empty_part_is_refused(root):
    no_query = dict(
        num_query_per_class=0, num_train_per_class=3, database='rest')
    with pytest.raises(
            ValueError, match="split='query' is empty under protocol custom-"):
        QueryDatabaseDataset(
            query=_part(root, 'query', protocol=no_query),
            database=_part(root, 'database', protocol=no_query))
