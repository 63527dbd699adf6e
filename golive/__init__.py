"""golive: a pytest-based go/no-go validation suite for blue-green production deployments."""

__version__ = "0.1.0"
