"""Model artifacts kept through Django's storage API, so a shop can put them on S3 or a NAS.

The storage is ``settings.STORAGES[ARTIFACT_STORAGE]`` and every artifact lives under
``ARTIFACT_PATH``. A training worker writes the artifact to a local temporary file first (the
ML core writes plain files atomically) and then hands it to the storage; web processes read it
back from there. :class:`~cart_recommender.models.ModelVersion` holds its storage name, size and
SHA-256: a web process loads an artifact only when its bytes still have that digest, so a file
altered in the storage (by accident or by someone who can write there) is never served.

Example::

    from cart_recommender.registry import artifacts
    model = artifacts.load_serving_model(version)   # ArtifactError if the bytes changed
"""

from __future__ import annotations

import hashlib
import io
import logging
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage, storages
from django.utils import timezone

from cart_recommender.conf import app_settings
from cart_recommender.ml.export import ArtifactError
from cart_recommender.ml.serving import ServingModel
from cart_recommender.models import ModelVersion

logger = logging.getLogger(__name__)


def get_storage() -> Storage:
    """The storage named by ``ARTIFACT_STORAGE``."""
    return storages[app_settings.ARTIFACT_STORAGE]


def relative_folder(storage: Storage) -> str | None:
    """The folder of a file-system storage configured relative to the working directory, or None.

    Such a storage (an empty ``MEDIA_ROOT``, say) writes where each process happens to start:
    another process would not find the file, and a ``cart_recommender/`` folder there would
    shadow the installed package. The system check ``cart_recommender.E008`` reports it.
    """
    if isinstance(storage, FileSystemStorage) and not Path(str(storage.base_location)).is_absolute():
        return str(storage.base_location)
    return None


def artifact_name(version_id: int, suffix: str = ".npz") -> str:
    """A storage name unique to one training run (the run's id and its finish time)."""
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    folder = app_settings.ARTIFACT_PATH.strip("/")
    return f"{folder}/v{version_id}-{stamp}{suffix}"


def store_artifact(version: ModelVersion, local_path: str | Path) -> str:
    """Copy a finished local artifact into the storage and record it on ``version``.

    Writes the storage name, size and SHA-256 to the version's row; returns the storage name.
    """
    storage = get_storage()
    folder = relative_folder(storage)
    if folder is not None:
        raise ImproperlyConfigured(
            f"refusing to store the artifact under {folder!r}, relative to the working directory "
            f"({Path.cwd()}): set MEDIA_ROOT (or ARTIFACT_STORAGE's location) to an absolute path"
        )
    local_path = Path(local_path)
    digest = hashlib.sha256()
    with local_path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
        fh.seek(0)
        name = storage.save(artifact_name(version.pk, local_path.suffix or ".npz"), File(fh))
    version.artifact, version.artifact_size = name, storage.size(name)
    version.artifact_sha256 = digest.hexdigest()
    ModelVersion.objects.filter(pk=version.pk).update(
        artifact=name, artifact_size=version.artifact_size, artifact_sha256=version.artifact_sha256
    )
    return name


def read_artifact_bytes(version: Any) -> bytes:
    """The version's artifact as bytes, checked against its recorded SHA-256.

    Raises:
        FileNotFoundError: the version has no artifact.
        ArtifactError: the bytes are not the ones the training run stored.
    """
    if not version.artifact:
        raise FileNotFoundError(f"v{version.pk} has no artifact")
    with get_storage().open(version.artifact, "rb") as fh:
        data = fh.read()
    expected = version.artifact_sha256
    if not expected:
        logger.warning("cart_recommender: v%s has no recorded SHA-256 (trained before 0.2); "
                       "its artifact is loaded unchecked", version.pk)
    elif hashlib.sha256(data).hexdigest() != expected:
        raise ArtifactError(
            f"the artifact of v{version.pk} ({version.artifact}) is not the file its training run "
            "stored (SHA-256 mismatch): refusing to load it"
        )
    return data


def load_serving_model(version: Any) -> ServingModel:
    """Load the NumPy serving twin of a version's model (no Keras involved), checked first."""
    return ServingModel.load(io.BytesIO(read_artifact_bytes(version)))


def delete_artifact(name: str) -> None:
    """Remove an artifact from the storage by its storage name (missing files are fine)."""
    if name:
        storage = get_storage()
        if storage.exists(name):
            storage.delete(name)
