"""Model artifacts kept through Django's storage API, so a shop can put them on S3 or a NAS.

The storage is ``settings.STORAGES[ARTIFACT_STORAGE]`` and every artifact lives under
``ARTIFACT_PATH``. A training worker writes the artifact to a local temporary file first (the
ML core writes plain files atomically) and then hands it to the storage; web processes read it
back from there. :attr:`ModelVersion.artifact <cart_recommender.models.ModelVersion.artifact>`
holds the storage name.

Example::

    from cart_recommender.registry import artifacts
    with artifacts.open_artifact(version) as fh:
        data = fh.read()
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import IO, Any

from django.core.files import File
from django.core.files.storage import Storage, storages
from django.utils import timezone

from cart_recommender.conf import app_settings
from cart_recommender.ml.serving import ServingModel


def get_storage() -> Storage:
    """The storage named by ``ARTIFACT_STORAGE``."""
    return storages[app_settings.ARTIFACT_STORAGE]


def artifact_name(version_id: int, suffix: str = ".npz") -> str:
    """A storage name unique to one training run (the run's id and its finish time)."""
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    folder = app_settings.ARTIFACT_PATH.strip("/")
    return f"{folder}/v{version_id}-{stamp}{suffix}"


def store_artifact(version_id: int, local_path: str | Path) -> tuple[str, int]:
    """Copy a finished local artifact into the storage; return ``(storage name, size)``."""
    storage = get_storage()
    local_path = Path(local_path)
    with local_path.open("rb") as fh:
        name = storage.save(artifact_name(version_id, local_path.suffix or ".npz"), File(fh))
    return name, storage.size(name)


def open_artifact(version: Any) -> IO[bytes]:
    """Open a version's artifact for reading (binary)."""
    if not version.artifact:
        raise FileNotFoundError(f"v{version.pk} has no artifact")
    return get_storage().open(version.artifact, "rb")


def local_path_or_file(version: Any) -> str | IO[bytes]:
    """A filesystem path when the storage has one (cheap, can be memory-mapped), else bytes.

    Remote storages are read once into memory: artifacts are a few MB to a few hundred MB.
    """
    storage = get_storage()
    try:
        path = storage.path(version.artifact)
    except NotImplementedError:
        path = None
    if path and Path(path).exists():
        return path
    with open_artifact(version) as fh:
        return io.BytesIO(fh.read())


def load_serving_model(version: Any) -> ServingModel:
    """Load the NumPy serving twin of a version's model (no Keras involved)."""
    return ServingModel.load(local_path_or_file(version))


def delete_artifact(name: str) -> None:
    """Remove an artifact from the storage by its storage name (missing files are fine)."""
    if name:
        storage = get_storage()
        if storage.exists(name):
            storage.delete(name)
