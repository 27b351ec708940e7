"""The compiled kernels are optional at install time; a build that fails
silently (the kernel tests would all skip) or a stale build (tests would
run old code) must not pass unnoticed."""
import os.path as osp
import shutil
import sysconfig

import pytest

import hashplugins.evaluation.functional.kernels as kernels

SOURCE = osp.join(osp.dirname(kernels.__file__), '_kernels.c')


def build_tools_present() -> bool:
    compiler = (sysconfig.get_config_var('CC') or 'cc').split()[0]
    header = osp.join(sysconfig.get_paths()['include'], 'Python.h')
    return shutil.which(compiler) is not None and osp.exists(header)


def test_built_where_a_compiler_exists():
    if not build_tools_present():
        pytest.skip('no C compiler or Python headers: the numpy path runs')
    assert kernels.kernels_built(), (
        'a C compiler and Python.h exist, but hashplugins.evaluation.'
        'functional._kernels did not build or import; rerun `pip install '
        '-e .` and read its build warning')


def test_build_is_not_older_than_its_source():
    if not kernels.kernels_built() or not osp.exists(SOURCE):
        pytest.skip('kernels not built, or installed without their source')
    built = kernels._kernels.__file__
    # 1 s of slack: the build copies the library with whole-second times.
    assert osp.getmtime(built) + 1 >= osp.getmtime(SOURCE), (
        f'{built} is older than {SOURCE}: rebuild with `python setup.py '
        'build_ext --inplace` (or `pip install -e .`)')
