"""Locate the data files under models/ (cpus/*.toml, workloads/*.toml).

Installed, models/ is the package `ptcalc.models` (pyproject.toml maps it with package-dir), so
the files sit inside the installed package.  Run from a source checkout without installing,
they sit in the repository's top-level models/ beside ptcalc/.  `models_path` tries the
package first and falls back to the checkout, so callers never care which case they are in.
Nothing is read at import time.
"""

from __future__ import annotations

import os
from pathlib import Path

_REPO_MODELS = Path(__file__).resolve().parent.parent / "models"


def _package_models_dir() -> Path | None:
    """The directory of the installed `ptcalc.models` package, or None when there is none."""
    try:
        from importlib.resources import files

        root = files("ptcalc.models")
    except (ModuleNotFoundError, TypeError, ValueError):
        return None
    # A regular package gives a pathlib.Path.  models/ has no __init__.py, so installed it is
    # a namespace package and files() gives a MultiplexedPath over its directories: take the
    # first one.  Anything else (e.g. a zip import) has no usable directory.
    if isinstance(root, Path):
        path = root
    else:
        directories = getattr(root, "_paths", None)
        if directories:
            path = Path(directories[0])
        else:
            try:
                path = Path(os.fspath(root))
            except TypeError:
                return None
    return path if path.is_dir() else None


def models_path(*parts: str) -> Path:
    """Path of `models/<parts...>`: e.g. ``models_path("cpus")`` or
    ``models_path("workloads", "oracle.toml")``.

    Uses ``importlib.resources.files("ptcalc.models")`` when that package is importable and
    holds the requested entry (or at least exists as a directory), else the repository's
    ``models/`` beside the ``ptcalc`` package.  The returned path may not exist; callers
    that need it to exist check and report the path in their error.
    """
    package_dir = _package_models_dir()
    if package_dir is not None:
        candidate = package_dir.joinpath(*parts)
        if candidate.exists() or not _REPO_MODELS.joinpath(*parts).exists():
            return candidate
    return _REPO_MODELS.joinpath(*parts)
