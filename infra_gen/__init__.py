"""infra-gen: one typed model per environment, rendered into every deployment artifact."""

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

try:
    # Installed (also editable): the version setuptools read from ./VERSION.
    __version__ = version("infra-gen")
except PackageNotFoundError:  # a source tree on sys.path, not installed
    __version__ = (Path(__file__).resolve().parents[1] / "VERSION").read_text(encoding="utf-8").strip()
