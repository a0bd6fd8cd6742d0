"""The serving artifact: one ``.npz`` of plain arrays plus a JSON manifest. Never a pickle.

Layout of the file (every entry a plain numeric or unicode array):

* ``__manifest__``: a unicode scalar holding JSON: ``format``, ``format_version``,
  ``architecture`` (the hyper-parameters that fix the weights' shapes), ``n_items``,
  ``created`` (ISO 8601, UTC), ``metrics`` (filled in by whoever evaluated the model),
  ``training`` (history and config, for the admin);
* ``items``: the external item ids, in code order;
* ``param/<name>``: the trained weights; ``const/<name>``: the co-purchase tables the model
  reads at scoring time (also what serving falls back on), the item-to-item weights and
  their ``alpha`` when the architecture has that term, and with content each item's token
  rows (``ct_tok``, ``ct_w``), whether its own embedding was trained (``id_known``) and the
  tokens in vocabulary order (``ct_vocab``, unicode: serving tokenises new products with it),
  and each item's nearest items in content (``ct_nbr``, ``ct_sim``) with their weight
  ``ct_kappa`` when that term was kept, and with a reranker each item's category code
  (``rr_cat``; its weights are ``param/rr_*``) and, where it also takes candidates by content,
  each item's content neighbours (``rr_nbr``, ``rr_sim``);
* ``stat/popularity``: purchase counts per item;
* ``extra/<name>``: further arrays a caller wants to ship with the model (e.g. a baseline's
  ``to_arrays()``), returned untouched in :attr:`ServingModel.extras`.

Files are written to a temporary name beside the target and moved into place with
``os.replace``, so a reader never sees half an artifact. Loading uses ``allow_pickle=False``,
checks every shape against the manifest and every weight for NaN and infinity, so a wrong or
tampered file fails loudly (the Django side also checks the file's SHA-256, see
:mod:`cart_recommender.registry.artifacts`).
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import numpy as np

from cart_recommender.ml.network import Architecture, constant_names, param_shapes
from cart_recommender.ml.reranker import weight_shapes

FORMAT = "cart_recommender.sequence_model"
FORMAT_VERSION = 1
MANIFEST_KEY = "__manifest__"


class ArtifactError(ValueError):
    """The file is not a valid model artifact (wrong format, version, shapes, or a pickle)."""


def _shapes(arch: Architecture) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every stored weight: the network's and, with one, the reranker's."""
    shapes = {name: shape for name, (shape, _init) in param_shapes(arch).items()}
    return {**shapes, **weight_shapes(bool(arch.rerank_content))} if arch.rerank else shapes


def save_artifact(
    target: str | Path | IO[bytes],
    *,
    items: list[str] | tuple[str, ...],
    arch: Architecture,
    params: dict[str, np.ndarray],
    constants: dict[str, np.ndarray],
    metrics: dict[str, Any] | None = None,
    training: dict[str, Any] | None = None,
    extras: dict[str, np.ndarray] | None = None,
) -> dict[str, Any]:
    """Write the artifact to a path (atomically) or an open binary file; return the manifest."""
    if len(items) != arch.n_items:
        raise ArtifactError(f"{len(items)} item ids for a model of {arch.n_items} items")
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "architecture": arch.to_dict(),
        "n_items": arch.n_items,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "metrics": metrics or {},
        "training": training or {},
    }
    arrays: dict[str, np.ndarray] = {
        MANIFEST_KEY: np.array(json.dumps(manifest, default=_plain)),
        "items": np.array([str(i) for i in items], dtype=np.str_),
        "stat/popularity": np.asarray(constants["item_count"][: arch.n_items], np.float32),
    }
    for name in _shapes(arch):
        arrays[f"param/{name}"] = np.asarray(params[name], np.float32)
    for name in constant_names(arch):
        arrays[f"const/{name}"] = np.asarray(constants[name])
    if arch.content_width:
        arrays["const/ct_vocab"] = np.asarray(constants["ct_vocab"], dtype=str)
    for name, value in (extras or {}).items():
        value = np.asarray(value)
        if value.dtype == object:
            raise ArtifactError(f"extra array {name!r} holds Python objects; only plain arrays are stored")
        arrays[f"extra/{name}"] = value
    if isinstance(target, (str, Path)):
        target = Path(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, **arrays)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    else:
        np.savez(target, **arrays)
    return manifest


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def read_manifest(source: str | Path | IO[bytes]) -> dict[str, Any]:
    """Only the manifest (cheap: the weights are not read)."""
    with _open(source) as data:
        return _manifest(data)


def _open(source: str | Path | IO[bytes]) -> Any:
    try:
        data = np.load(source, allow_pickle=False)
    except ValueError as exc:  # numpy refuses pickled content with a ValueError
        raise ArtifactError(f"not a model artifact (refusing to unpickle): {exc}") from exc
    except (OSError, EOFError) as exc:
        raise ArtifactError(f"cannot read model artifact: {exc}") from exc
    if not hasattr(data, "files"):
        raise ArtifactError("not a model artifact: a bare array, not an .npz archive")
    return data


def _arrays(data: Any) -> dict[str, np.ndarray]:
    """Every array of the archive; numpy refuses (ValueError) any that would need unpickling."""
    try:
        return {key: data[key] for key in data.files}
    except ValueError as exc:
        raise ArtifactError(f"not a model artifact (refusing to unpickle): {exc}") from exc
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ArtifactError(f"cannot read model artifact: {exc}") from exc


def _manifest(data: Any) -> dict[str, Any]:
    if MANIFEST_KEY not in data.files:
        raise ArtifactError("not a model artifact: no manifest")
    try:
        raw = data[MANIFEST_KEY]
    except ValueError as exc:
        raise ArtifactError(f"not a model artifact (refusing to unpickle): {exc}") from exc
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ArtifactError(f"cannot read model artifact: {exc}") from exc
    if not isinstance(raw, np.ndarray) or raw.dtype.kind != "U" or raw.shape != ():
        raise ArtifactError("the manifest must be a unicode scalar holding JSON")
    try:
        manifest = json.loads(str(raw))
    except (ValueError, TypeError) as exc:
        raise ArtifactError(f"the manifest is not valid JSON: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ArtifactError(f"not a model artifact: format is not {FORMAT!r}")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ArtifactError(
            f"artifact format version {manifest.get('format_version')!r} is not supported "
            f"(this version reads {FORMAT_VERSION}); retrain the model"
        )
    return manifest


@dataclass(frozen=True)
class Artifact:
    """The validated contents of an artifact file, every array read-only.

    Attributes:
        items: external item ids; an item's code is its position.
        arch: the architecture the weights belong to.
        manifest: the JSON manifest (format version, metrics, created, ...).
        params, constants: the weights and the constant arrays the network reads.
        popularity: float32 (n_items,) purchase counts.
        extras: any further named arrays the exporter stored (e.g. a baseline's arrays).
    """

    items: tuple[str, ...]
    arch: Architecture
    manifest: dict[str, Any]
    params: dict[str, np.ndarray]
    constants: dict[str, np.ndarray]
    popularity: np.ndarray
    extras: dict[str, np.ndarray] = field(default_factory=dict)


def read_artifact(source: str | Path | IO[bytes]) -> Artifact:
    """Load and validate an artifact (see the module docstring for what is checked)."""
    with _open(source) as archive:
        data = _Arrays(_arrays(archive))
        manifest = _manifest(data)
        try:
            arch = Architecture(**manifest["architecture"])
        except (TypeError, KeyError) as exc:
            raise ArtifactError(f"bad architecture in manifest: {exc}") from exc
        n = arch.n_items
        if manifest.get("n_items") != n:
            raise ArtifactError("manifest n_items disagrees with its architecture")
        params = {}
        for name, shape in _shapes(arch).items():
            params[name] = _array(data, f"param/{name}", shape, np.float32)
        nb = arch.neighbours
        constants = {
            "nbr_item": _array(data, "const/nbr_item", (n + 1, nb), np.int32),
            "nbr_count": _array(data, "const/nbr_count", (n + 1, nb), np.float32),
            "item_count": _array(data, "const/item_count", (n + 1,), np.float32),
        }
        if arch.item_item:
            k, rows = arch.item_item, arch.item_item_rows or n + 1
            constants["ii_item"] = _array(data, "const/ii_item", (rows, k), np.int32)
            constants["ii_weight"] = _array(data, "const/ii_weight", (rows, k), np.float32)
            constants["ii_alpha"] = _array(data, "const/ii_alpha", (1,), np.float32)
            if arch.item_item_rows:
                row = constants["ii_row"] = _array(data, "const/ii_row", (n + 1,), np.int32)
                if row.min(initial=0) < 0 or row.max(initial=0) >= rows or row[n] != rows - 1:
                    raise ArtifactError("ii_row out of range (or padding not on the padding row)")
                if constants["ii_weight"][rows - 1].any():
                    raise ArtifactError("the item-to-item padding row has weights")
        if arch.content_width:
            width, vocab = arch.content_width, arch.content_vocab
            constants["ct_tok"] = _array(data, "const/ct_tok", (n + 1, width), np.int32)
            constants["ct_w"] = _array(data, "const/ct_w", (n + 1, width), np.float32)
            constants["id_known"] = _array(data, "const/id_known", (n + 1,), np.float32)
            tokens = constants["ct_tok"]
            if tokens.min(initial=0) < 0 or tokens.max(initial=0) > vocab:
                raise ArtifactError("ct_tok codes out of range")
            words = _array(data, "const/ct_vocab", (vocab,), None)
            if words.dtype.kind != "U":
                raise ArtifactError("content tokens must be stored as a unicode array")
            constants["ct_vocab"] = words
        if arch.content_neighbours and arch.repeat_window:
            k = arch.content_neighbours
            constants["ct_nbr"] = _array(data, "const/ct_nbr", (n + 1, k), np.int32)
            constants["ct_sim"] = _array(data, "const/ct_sim", (n + 1, k), np.float32)
            constants["ct_kappa"] = _array(data, "const/ct_kappa", (1,), np.float32)
        if arch.rerank:
            category = constants["rr_cat"] = _array(data, "const/rr_cat", (n + 1,), np.int32)
            if category.min(initial=0) < 0 or category.max(initial=0) > n:
                raise ArtifactError("rr_cat codes out of range")
            if arch.rerank_content:
                k = arch.rerank_neighbours
                constants["rr_nbr"] = _array(data, "const/rr_nbr", (n + 1, k), np.int32)
                constants["rr_sim"] = _array(data, "const/rr_sim", (n + 1, k), np.float32)
        for name in ("nbr_item", "ii_item", "ct_nbr", "rr_nbr"):
            codes = constants.get(name)
            if codes is not None and (codes.min(initial=0) < 0 or codes.max(initial=0) > n):
                raise ArtifactError(f"{name} codes out of range")
        items = _array(data, "items", (n,), None)
        if items.dtype.kind != "U":
            raise ArtifactError("item ids must be stored as a unicode array")
        popularity = _array(data, "stat/popularity", (n,), np.float32)
        extras = {key[len("extra/") :]: data[key] for key in data.files if key.startswith("extra/")}
    for name, array in (*params.items(), *constants.items(), ("popularity", popularity)):
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            # NaN weights score every item NaN: bundles would silently fall back to popularity
            raise ArtifactError(f"{name!r} holds NaN or infinite values")
    for array in (*params.values(), *constants.values(), popularity):
        array.setflags(write=False)
    return Artifact(items=tuple(items.tolist()), arch=arch, manifest=manifest, params=params,
                    constants=constants, popularity=popularity, extras=extras)


class _Arrays(dict):
    @property
    def files(self) -> list[str]:
        return list(self)


def _array(data: Any, key: str, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    if key not in data.files:
        raise ArtifactError(f"model artifact lacks {key!r}")
    value = data[key]
    if not isinstance(value, np.ndarray):
        raise ArtifactError(f"{key!r} is not an array")
    if value.shape != tuple(shape):
        raise ArtifactError(f"{key!r} has shape {value.shape}, the manifest implies {tuple(shape)}")
    if dtype is not None:
        if value.dtype.kind not in "fiu":
            raise ArtifactError(f"{key!r} is not numeric")
        value = value.astype(dtype, copy=False)
    return value
