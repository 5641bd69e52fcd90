"""Find a verified local copy of a dataset file: cache, then mirror, then download.

Resolution order for a file ``<folder>/<file>`` of a card:

1. the cache (``<SCIPTM_CACHE>/datasets/<folder>/<file>``), checked against the card's
   sha256 (a ``.sha256`` sidecar avoids re-hashing while size and mtime are unchanged).
   A corrupt cached copy is deleted and reported.
2. the mirror (``$SCIPTM_DATA_MIRROR/<folder>/<file>``), hashed in full every time and
   read in place. Mirror files are **not** copied into the cache: the mirror is already
   a local, read-only copy, the files are small (hashing the largest, 14 MB, takes tens
   of milliseconds) and a second copy would only double disk use and risk drift.
3. the copies embedded in the package (``sciptm/data/embedded/<folder>/<file>``: only the quick-start
   ESOL and BBBP files, so the README's main job runs offline), verified like a mirror copy.
4. a download from the card's canonical URL (or ``$SCIPTM_DATA_URL/<folder>/<file>``),
   streamed to a temporary file in the cache folder, verified, then moved into place.

Example
-------
>>> from sciptm.data.cards import CARDS
>>> from sciptm.data.fetch import fetch_file  # doctest: +SKIP
>>> card = CARDS["esol"]
>>> path, sha = fetch_file(card, card.files[0])  # doctest: +SKIP
"""
from __future__ import annotations

from pathlib import Path

from sciptm.data import locations
from sciptm.data.cards import Card, FileSpec
from sciptm.data.download import DataUnavailableError, download
from sciptm.data.integrity import sha256_file, sidecar_path, verify_file
from sciptm.errors import DataIntegrityError

#: the quick-start datasets shipped inside the package (byte-identical, sha256-checked; see SOURCE.md there)
EMBEDDED_DIR = Path(__file__).resolve().parent / "embedded"


def _folder(card: Card) -> str:
    if not card.folder:
        raise DataUnavailableError(f"card {card.name!r} has no data folder (it was not read from datasets/)")
    return card.folder


def cache_path(card: Card, spec: FileSpec) -> Path:
    """Where the cache keeps ``spec`` of ``card``."""
    return locations.dataset_cache_dir() / _folder(card) / spec.file


def download_url(card: Card, spec: FileSpec) -> str | None:
    """The URL a download of ``spec`` uses: ``$SCIPTM_DATA_URL/<folder>/<file>`` or the card's URL."""
    base = locations.url_base()
    if base is not None:
        return f"{base}/{_folder(card)}/{spec.file}"
    return spec.url


def embedded_path(card: Card, spec: FileSpec) -> Path | None:
    """The copy shipped inside the package (``sciptm/data/embedded/``, see its ``SOURCE.md``), or ``None``."""
    if not card.folder or not locations.embedded_allowed():
        return None
    path = EMBEDDED_DIR / card.folder / spec.file
    return path if path.is_file() else None


def local_path(card: Card, spec: FileSpec) -> Path | None:
    """An existing local copy (cache first, then mirror) without verifying it, or ``None``."""
    cached = cache_path(card, spec)
    if cached.is_file():
        return cached
    mirror = locations.mirror_dir()
    if mirror is not None and (mirror / _folder(card) / spec.file).is_file():
        return mirror / _folder(card) / spec.file
    return embedded_path(card, spec)


def fetch_file(card: Card, spec: FileSpec, *, progress: bool = True) -> tuple[Path, str]:
    """Return ``(path, sha256)`` of a verified local copy of ``spec``.

    Raises
    ------
    DataIntegrityError
        when a cached, mirrored or downloaded copy has the wrong checksum (the file,
        expected and actual hashes are named; cached and downloaded copies are removed),
        or when the card pins no checksum.
    DataUnavailableError
        when no copy exists and downloading is impossible (offline, no URL, network error).
    """
    accepted = spec.accepted_sha256
    if not accepted:
        raise DataIntegrityError(
            f"dataset {card.name!r}: file {spec.file!r} has no pinned sha256 ({spec.note}); refusing to load it")
    cached = cache_path(card, spec)
    if cached.is_file():
        try:
            return cached, verify_file(cached, accepted, use_sidecar=True)
        except DataIntegrityError as exc:
            cached.unlink(missing_ok=True)
            sidecar_path(cached).unlink(missing_ok=True)
            raise DataIntegrityError(f"{exc}; the corrupt cached copy was removed, load again to fetch it anew") from exc
    mirror = locations.mirror_dir()
    tried = [str(cached)]
    if mirror is not None:
        mirrored = mirror / _folder(card) / spec.file
        tried.append(str(mirrored))
        if mirrored.is_file():
            return mirrored, verify_file(mirrored, accepted)
    embedded = embedded_path(card, spec)
    if embedded is not None:
        return embedded, verify_file(embedded, accepted)
    url = download_url(card, spec)
    if url is None:
        raise DataUnavailableError(
            f"dataset {card.name!r}: {spec.file!r} not found in {tried} and the card gives no download URL")
    if locations.offline():
        raise DataUnavailableError(
            f"dataset {card.name!r}: {spec.file!r} not found in {tried}; SCIPTM_OFFLINE forbids downloading {url}")
    return cached, download(url, cached, accepted, progress=progress)


__all__ = ["EMBEDDED_DIR", "DataUnavailableError", "cache_path", "download_url", "embedded_path", "fetch_file",
           "local_path", "sha256_file"]
