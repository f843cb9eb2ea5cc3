"""Which manifest a run uses: --manifest, else the manifest channel (fresh, or its cached copy), else the embedded one.

A channel (--manifest-channel URL / PYBOOTSTRAP_MANIFEST_CHANNEL: a fleet's intranet copy, or the project's
published file) keeps pybootstrap current without a new release. It is asked once per run, with the ETag /
Last-Modified of the cached copy (<home>/cache/manifest-channel/), waiting a few seconds at most; an answer is
used only when it is a valid manifest of a schema_version this pybootstrap reads. Otherwise, and when the channel
cannot be reached, the cached copy is used, else the embedded manifest; with --offline the channel is never asked.
The manifest's provenance (Manifest.provenance) says which one was used and why; it goes into every plan.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional

from pybootstrap import manifest_http
from pybootstrap._download import require_secure_url
from pybootstrap.errors import ManifestError, NetworkError
from pybootstrap.files import atomic_write, is_regular
from pybootstrap.manifest import decode_manifest, embedded_manifest, load_manifest, parse_manifest, schema_version_of
from pybootstrap.manifest_model import SCHEMA_VERSION, Manifest, Provenance
from pybootstrap.redact import redact

TIMEOUT_S = 5.0  # the whole request: a run never waits longer than this for the channel
CACHE_FOLDER = "manifest-channel"
MAX_BYTES = 8 * 1024 * 1024


def resolve_manifest(explicit: Optional[str], channel: Optional[str], *, offline: bool, cache_dir: Path,
                     timeout_s: Optional[float] = None) -> Manifest:
    """The manifest this run uses, with its provenance: --manifest, else the channel, else the embedded one."""
    if channel:
        require_secure_url(channel, what="--manifest-channel")
    if explicit:
        manifest = load_manifest(explicit)
        if channel and manifest.provenance:
            detail = f"{manifest.provenance.detail} (it wins over the channel {redact(channel)}, which was not asked)"
            manifest = manifest.with_provenance(Provenance("file", detail, manifest.provenance.location))
        return manifest
    if not channel:
        return embedded_manifest()
    return from_channel(channel, offline=offline, cache_dir=cache_dir,
                        timeout_s=TIMEOUT_S if timeout_s is None else timeout_s)


def from_channel(url: str, *, offline: bool, cache_dir: Path, timeout_s: float) -> Manifest:
    """Ask the channel (conditionally, if a copy is cached); fall back to the cached copy, then the embedded one."""
    cache = ChannelCache(cache_dir / CACHE_FOLDER, url)
    cached = cache.load()
    shown = redact(url)
    if offline:
        return _fallback(cached, f"--offline: the channel {shown} was not asked")
    headers: Dict[str, str] = {"Accept": "application/json"}
    if cached is not None:
        if cached.etag:
            headers["If-None-Match"] = cached.etag
        if cached.last_modified:
            headers["If-Modified-Since"] = cached.last_modified
    try:
        response = manifest_http.get(url, what="--manifest-channel", timeout_s=timeout_s, headers=headers,
                                     max_bytes=MAX_BYTES)
    except NetworkError as exc:
        return _fallback(cached, f"the channel {shown} could not be reached: {exc.message}")
    if response.status == 304 and cached is not None:
        return cached.manifest.with_provenance(Provenance(
            "cached", f"the channel {shown} answered 304 Not Modified: its copy cached on {cached.fetched} is "
                      "current", str(cache.path)))
    if response.status != 200:
        return _fallback(cached, f"the channel {shown} answered HTTP {response.status}")
    try:
        data = decode_manifest(response.body, shown)
        version = schema_version_of(data)
        if version is not None and version > SCHEMA_VERSION:
            return _fallback(cached, f"the channel {shown} has a manifest of schema_version {version}, newer than "
                                     f"this pybootstrap reads ({SCHEMA_VERSION}); upgrade pybootstrap to use it")
        manifest = parse_manifest(data, shown)
    except ManifestError as exc:
        return _fallback(cached, f"the channel {shown} sent an invalid manifest ({exc.message})")
    note = cache.save(response.body, response.headers.get("etag"), response.headers.get("last-modified"))
    detail = f"fetched from the channel {shown}" + (f" ({note})" if note else "")
    return manifest.with_provenance(Provenance("channel", detail, shown))


def _fallback(cached: Optional["CachedCopy"], why: str) -> Manifest:
    if cached is not None:
        return cached.manifest.with_provenance(Provenance(
            "cached", f"{why}; using its copy cached on {cached.fetched}", str(cached.path)))
    embedded = embedded_manifest()
    location = embedded.provenance.location if embedded.provenance else embedded.origin
    return embedded.with_provenance(Provenance("embedded", f"{why}; using the manifest shipped with pybootstrap",
                                               location))


@dataclass(frozen=True)
class CachedCopy:
    """The channel's last good manifest, with the validators to ask whether it changed."""

    manifest: Manifest
    path: Path
    etag: Optional[str]
    last_modified: Optional[str]
    fetched: str


class ChannelCache:
    """<cache>/manifest-channel/<hash of the URL>.json and .meta.json; written atomically, regular files only."""

    def __init__(self, folder: Path, url: str) -> None:
        key = hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]
        self.folder = folder
        self.url = url
        self.path = folder / f"{key}.json"
        self.meta_path = folder / f"{key}.meta.json"

    def load(self) -> Optional[CachedCopy]:
        """The cached copy when it is still a valid manifest for this pybootstrap, else None."""
        try:
            if not (is_regular(self.path) and is_regular(self.meta_path)):
                return None
            meta = json.loads(self.meta_path.read_text(encoding="utf-8"))
            if not isinstance(meta, dict) or meta.get("url") != self.url:
                return None
            manifest = parse_manifest(decode_manifest(self.path.read_bytes(), str(self.path)), redact(self.url))
        except (OSError, ValueError, ManifestError):
            return None  # unreadable, or written by another pybootstrap: ask the channel afresh
        return CachedCopy(manifest, self.path, _text(meta.get("etag")), _text(meta.get("last_modified")),
                          _text(meta.get("fetched")) or "an unknown date")

    def save(self, body: bytes, etag: Optional[str], last_modified: Optional[str]) -> Optional[str]:
        """Store a good answer; a note when it could not be stored (the run goes on without a cache)."""
        import datetime

        fetched = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        meta = {"url": self.url, "etag": etag, "last_modified": last_modified, "fetched": fetched}
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            atomic_write(self.path, body, label="the cached manifest")
            atomic_write(self.meta_path, json.dumps(meta, indent=1), label="the cached manifest")
        except OSError as exc:
            return f"not cached: {exc.strerror or exc}: {exc.filename or self.folder}"
        return None


def _text(value: object) -> Optional[str]:
    return value if isinstance(value, str) and value else None


