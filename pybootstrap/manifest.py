"""Loading the manifest: from the package, a path, a file:// or https:// URL; strict JSON; schema, then expansion.

The value objects live in pybootstrap.manifest_model; validation walks manifests/schema.json
(pybootstrap.manifest_schema); pybootstrap.manifest_expand checks what a schema cannot and expands the matrices.
Which manifest a run uses (the --manifest file, a channel, its cache, or the embedded one) is decided in
pybootstrap.manifest_channel.
"""

from __future__ import annotations

import functools
import json
import os
import re
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

from pybootstrap.errors import ManifestError
from pybootstrap.manifest_expand import expand
from pybootstrap.manifest_model import SCHEMA_VERSION, Manifest, Provenance
from pybootstrap.manifest_schema import FieldError, describe, validate

MANIFEST_NAME = "pytorch.json"
SCHEMA_NAME = "schema.json"
FIX_ADVICE = ("Fix the manifest (manifests/schema.json describes it; README, 'Add a PyTorch release'), or run "
              "without --manifest to use the one shipped with pybootstrap.")


def _shipped(name: str) -> Path:
    """A file shipped beside the package: pybootstrap/manifests/ (installed wheel) or manifests/ (a checkout)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "manifests" / name, here.parent / "manifests" / name):
        if candidate.is_file():
            return candidate
    return here / "manifests" / name


def default_manifest_path() -> Path:
    """The manifest shipped with the package (installed wheel) or beside it (source checkout)."""
    return _shipped(MANIFEST_NAME)


@functools.lru_cache(maxsize=1)
def schema() -> Mapping[str, Any]:
    """manifests/schema.json, the description of the manifest file that validation walks."""
    path = _shipped(SCHEMA_NAME)
    return decode_manifest(_read_file(path), str(path))  # type: ignore[no-any-return]


def schema_version_of(data: Any) -> Optional[int]:
    """The document's schema_version when it is an integer, else None."""
    version = data.get("schema_version") if isinstance(data, dict) else None
    return version if isinstance(version, int) and not isinstance(version, bool) else None


def parse_manifest(data: Any, origin: str = "<memory>") -> Manifest:
    """Validate a decoded manifest document against the schema, check it, expand it; raise ManifestError."""
    version = schema_version_of(data)
    if version is not None and version != SCHEMA_VERSION:
        newer = version > SCHEMA_VERSION
        raise ManifestError(f"schema_version: unsupported version {version} (this pybootstrap reads version "
                            f"{SCHEMA_VERSION})",
                            "Upgrade pybootstrap to read this manifest." if newer else
                            "Write the manifest in the current format (README, 'Add a PyTorch release').")
    try:
        validate(data, schema())
        return expand(data, origin)
    except FieldError as exc:
        raise ManifestError(f"{exc.path}: {exc.message}", FIX_ADVICE) from None


def embedded_manifest() -> Manifest:
    """The manifest shipped with this pybootstrap."""
    path = default_manifest_path()
    manifest = parse_manifest(decode_manifest(_read_file(path), str(path)), str(path))
    return manifest.with_provenance(Provenance("embedded", "the manifest shipped with pybootstrap", str(path)))


def load_manifest(source: Optional[str] = None, *, timeout: float = 20.0) -> Manifest:
    """Load and validate a manifest from the package (no source), a file path, a file:// URL or an https:// URL."""
    if not source:
        return embedded_manifest()
    source = os.fspath(source)
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]+://", source) and not source.lower().startswith("file://"):
        from pybootstrap._download import fetch_bytes, require_secure_url

        require_secure_url(source, what="--manifest")
        manifest = parse_manifest(decode_manifest(fetch_bytes(source, timeout=timeout), source), source)
    else:
        path = file_url_path(source) if source.lower().startswith("file://") else Path(source).expanduser()
        manifest = parse_manifest(decode_manifest(_read_file(path), str(path)), str(path))
    return manifest.with_provenance(Provenance("file", f"given with --manifest {source}", manifest.origin))


def file_url_path(url: str) -> Path:
    """file:///C:/x/m.json -> C:\\x\\m.json on Windows, /x/m.json elsewhere; %20 decoded; file://host/... is UNC."""
    from urllib.parse import urlparse
    from urllib.request import url2pathname

    parsed = urlparse(url)
    path = url2pathname(parsed.path)
    if parsed.netloc and parsed.netloc.lower() != "localhost":
        path = "//" + parsed.netloc + path.replace("\\", "/")
    return Path(path)


def _read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ManifestError(f"manifest not found: {path}",
                            "Check the --manifest path (or PYBOOTSTRAP_MANIFEST).") from None
    except OSError as exc:
        raise ManifestError(f"cannot read manifest {path}: {exc.strerror or exc}",
                            "Check the path and the file's permissions.") from None


class _StrictJsonError(ValueError):
    """Valid for Python's json module but not for a manifest: a repeated key, NaN or Infinity."""


def _unique_keys(pairs: List[Tuple[str, Any]]) -> Dict[str, Any]:
    obj: Dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise _StrictJsonError(f"the key {describe(key)} appears twice in one object")
        obj[key] = value
    return obj


def _no_constant(name: str) -> Any:
    raise _StrictJsonError(f"{name} is not a JSON number")


def decode_manifest(data: bytes, origin: str) -> Any:
    """Strict JSON from UTF-8 bytes (a BOM is fine): no repeated keys, no NaN; ManifestError names the place."""
    try:
        text = data[3:].decode("utf-8") if data[:3] == b"\xef\xbb\xbf" else data.decode("utf-8")
        return json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except UnicodeDecodeError as exc:
        raise ManifestError(f"{origin}: not UTF-8 text ({exc.reason} at byte {exc.start})",
                            "A manifest is a UTF-8 JSON file.") from None
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{origin}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
                            "Fix the JSON syntax (a validator such as `python -m json.tool` shows where).") from None
    except _StrictJsonError as exc:
        raise ManifestError(f"{origin}: invalid JSON: {exc}", "Fix the JSON (each key once, numbers only).") from None
    except RecursionError:
        raise ManifestError(f"{origin}: JSON nested too deeply", "This is not a pybootstrap manifest.") from None
