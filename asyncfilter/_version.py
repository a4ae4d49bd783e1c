"""The package's version, from its installed metadata (the one place it is written is
``pyproject.toml``). Read on first use: importlib.metadata costs a twentieth of a second."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("asyncfilter")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
