"""golive: a pytest-based go/no-go validation suite for blue-green production deployments."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("golive")  # one source: pyproject.toml's [project] version, as installed
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"
