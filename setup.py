"""Build of the optional compiled evaluation kernels.

Metadata lives in setup.cfg / pyproject.toml; this file only declares the C
extension. It is ``optional``: where no C compiler is available the build
prints a warning and the package installs without it, and the evaluation
uses its numpy code path (same numbers, slower; see docs/evaluation.md).
"""
import os

from setuptools import Extension, setup

extra = ['-O3'] if os.name != 'nt' else ['/O2']

setup(ext_modules=[
    Extension(
        'hashplugins.evaluation.functional._kernels',
        sources=['hashplugins/evaluation/functional/_kernels.c'],
        extra_compile_args=extra,
        optional=True)
])
