"""Configuration is in pyproject.toml; this file only works around a setuptools gap.

setuptools' editable wheels install data files only when `Distribution.has_data()` exists,
and it does not (the method is `has_data_files`), so `pip install -e .` would skip the
JupyterLab extension and the server-extension switch that `pip install .` installs.
"""

from setuptools import setup
from setuptools.dist import Distribution


class _Distribution(Distribution):
    def has_data(self) -> bool:
        return self.has_data_files()


setup(distclass=_Distribution)
