"""The bad-input matrix cannot go stale: its README is generated from
matrix.py, docs/reliability.md quotes its counts, and every row names a
test function that exists."""
import ast
import os.path as osp

import pytest

import matrix
from harness import REPO_ROOT


def test_readme_is_generated_from_the_matrix():
    with open(matrix.README) as f:
        assert f.read() == matrix.render(), (
            'tests/reliability/README.md is stale: run '
            'python tests/reliability/matrix.py')


def test_docs_quote_the_current_counts():
    with open(osp.join(REPO_ROOT, 'docs', 'reliability.md')) as f:
        assert matrix.summary() in f.read(), (
            'docs/reliability.md must quote: ' + matrix.summary())


@pytest.mark.parametrize('row', matrix.ROWS, ids=lambda r: r.case)
def test_row_names_an_existing_test(row):
    path, func = row.test.split('::')
    assert row.status in ('clear', 'fixed')
    full = osp.join(REPO_ROOT, path)
    assert osp.isfile(full), f'{path} does not exist'
    with open(full) as f:
        names = {n.name for n in ast.walk(ast.parse(f.read()))
                 if isinstance(n, ast.FunctionDef)}
    assert func in names, f'{path} has no test {func}'
