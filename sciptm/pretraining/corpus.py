"""Prepared pretraining corpora: stream, convert, de-duplicate, filter, cache, random access.

:func:`prepare_corpus` streams the raw corpus once (bounded memory: one chunk of records at a time),
turns every item into its token text with the domain adapter in worker processes (symmetry analysis
of crystals and RDKit canonicalization are the slow part), and writes

- ``texts.txt``: one token text per line, every valid item, in file order;
- ``train.npy`` / ``val.npy``: ``N x 2`` int64 byte ranges into ``texts.txt`` of the kept items;
- ``ids.txt`` / ``train_rows.npy`` / ``val_rows.npy``: the record id of every valid item (one a line, the
  order of ``texts.txt``) and the line of each kept item, so per-record labels (e.g. the formation energies
  of the MP corpus) can be joined to the kept items;
- ``stats.json``: counts per split (read, invalid, duplicates, benchmark overlap, kept) and examples.

Only 64-bit key hashes (8 bytes an item) are held in memory for de-duplication and filtering, never
the items themselves. The folder is built under a temporary name and renamed into place, and is
reused when the same source, domain and settings ask for it again.

:class:`TextCorpus` reads items back by index through a memory map.

Example
-------
>>> from sciptm.pretraining import PretrainConfig, prepare_corpus
>>> cfg = PretrainConfig(domain="smiles", train_source="chem/moses_train.csv.gz", max_items=5000)
>>> prepared = prepare_corpus(cfg)                     # doctest: +SKIP
>>> prepared.stats["train"]["kept"], len(prepared.train)  # doctest: +SKIP
(4871, 4871)
"""
from __future__ import annotations

import hashlib
import itertools
import json
import logging
import multiprocessing
import os
import shutil
import time
from array import array
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sciptm._util.atomic import write_with_atomic
from sciptm.domains import Domain, get_domain
from sciptm.pretraining.config import PretrainConfig
from sciptm.pretraining.keys import KEYERS, CorpusKeyer, bench_name, hash_keys, key_hash
from sciptm.pretraining.sources import Record, iter_records

FORMAT_VERSION = 2  # 2: record ids of the kept items (ids.txt, *_rows.npy)
_CHUNK = 1000
_EXAMPLES = 5


# --------------------------------------------------------------------------------------- reading back
class TextCorpus:
    """Random access to the kept items of one split of a prepared corpus (memory-mapped, picklable).

    >>> corpus = TextCorpus(folder / "texts.txt", np.load(folder / "train.npy"))  # doctest: +SKIP
    >>> corpus[0], len(corpus)  # doctest: +SKIP
    """

    def __init__(self, texts_path: str | Path, ranges: np.ndarray):
        self.texts_path = Path(texts_path)
        self.ranges = np.asarray(ranges, dtype=np.int64).reshape(-1, 2)
        self._map: np.memmap | None = None

    def __len__(self) -> int:
        return int(self.ranges.shape[0])

    def _bytes(self) -> np.memmap:
        if self._map is None:
            self._map = np.memmap(self.texts_path, dtype=np.uint8, mode="r")
        return self._map

    def __getitem__(self, i: int) -> str:
        start, end = self.ranges[int(i)]
        return self._bytes()[start:end].tobytes().decode("utf-8")

    def take(self, indices: np.ndarray | list[int]) -> list[str]:
        return [self[i] for i in indices]

    def __getstate__(self) -> dict[str, Any]:  # DataLoader workers re-open the map themselves
        state = dict(self.__dict__)
        state["_map"] = None
        return state


@dataclass
class PreparedCorpus:
    """A prepared corpus folder: the train and validation splits and their counts."""

    folder: Path
    train: TextCorpus
    val: TextCorpus
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        return self.folder.name

    def record_ids(self, split: str) -> list[str]:
        """Record ids (CSV row number, FASTA name, CIF member name) of the kept items of ``split``, in order."""
        if split not in ("train", "val"):
            raise ValueError(f"split must be 'train' or 'val', not {split!r}")
        rows = np.load(self.folder / f"{split}_rows.npy")
        ids = (self.folder / "ids.txt").read_text(encoding="utf-8").split("\n")
        return [ids[int(i)] for i in rows]


# --------------------------------------------------------------------------------------- workers
_WORKER: dict[str, Any] = {}


def _init_worker(domain_config: dict[str, Any], keyer_name: str) -> None:
    _WORKER["domain"] = get_domain(domain_config)
    _WORKER["keyer"] = KEYERS.get(keyer_name)()


def _process_chunk(records: list[Record]) -> list[tuple[str | None, str, int, tuple[int, ...]]]:
    """``(text, reason_or_id, dedup hash, block hashes)`` per record; ``text=None`` for invalid ones."""
    domain: Domain = _WORKER["domain"]
    keyer: CorpusKeyer = _WORKER["keyer"]
    out = []
    for record_id, item in records:
        try:
            text = domain.to_text(item)
            if "\n" in text or "\r" in text:
                raise ValueError("token text contains a line break")
            if not text.strip():
                raise ValueError("empty token text")
            dedup = key_hash(keyer.dedup_key(item, text))
            block = tuple(key_hash(k) for k in keyer.block_keys(item, text))
        except (ValueError, TypeError) as exc:
            out.append((None, f"{record_id}: {exc}", 0, ()))
            continue
        out.append((text, record_id, dedup, block))
    return out


def _bounded_imap(pool, chunks: Iterator[list[Record]], window: int) -> Iterator[list]:
    """Ordered ``pool.imap`` that keeps at most ``window`` chunks in flight (``imap`` reads its input eagerly)."""
    pending: deque = deque()
    for chunk in chunks:
        pending.append(pool.apply_async(_process_chunk, (chunk,)))
        if len(pending) >= window:
            yield pending.popleft().get()
    while pending:
        yield pending.popleft().get()


def _chunks(records: Iterator[Record], size: int) -> Iterator[list[Record]]:
    while True:
        chunk = list(itertools.islice(records, size))
        if not chunk:
            return
        yield chunk


@dataclass
class _Scan:
    """What one pass over a source leaves in memory: byte ranges and key hashes (no items)."""

    ranges: array = field(default_factory=lambda: array("q"))
    dedup: array = field(default_factory=lambda: array("Q"))
    block: array = field(default_factory=lambda: array("Q"))
    block_owner: array = field(default_factory=lambda: array("q"))
    id_blocked: list[int] = field(default_factory=list)
    read: int = 0
    invalid: int = 0
    invalid_examples: list[str] = field(default_factory=list)


def _scan(source: Path, cfg: PretrainConfig, limit: int | None, out_handle, blocked_ids: set[str],
          workers: int, domain_config: dict[str, Any], keyer_name: str, ids_handle=None) -> _Scan:
    scan = _Scan()
    records = iter_records(source)
    if limit is not None:
        records = itertools.islice(records, limit)
    chunks = _chunks(records, _CHUNK)
    if workers > 1:
        # fork: workers need no importable __main__ (scripts without a main guard work); they only run RDKit /
        # pymatgen code, never torch or CUDA
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        pool = ctx.Pool(workers, initializer=_init_worker, initargs=(domain_config, keyer_name))
        results = _bounded_imap(pool, chunks, window=4 * workers)
    else:
        pool = None
        _init_worker(domain_config, keyer_name)
        results = map(_process_chunk, chunks)
    try:
        for chunk in results:
            for text, info, dedup, block in chunk:
                scan.read += 1
                if text is None:
                    scan.invalid += 1
                    if len(scan.invalid_examples) < _EXAMPLES:
                        scan.invalid_examples.append(info)
                    continue
                data = (text + "\n").encode("utf-8")
                start = out_handle.tell()
                out_handle.write(data)
                if ids_handle is not None:
                    ids_handle.write((str(info).replace("\n", " ") + "\n").encode("utf-8"))
                n = len(scan.dedup)
                scan.ranges.extend((start, start + len(data) - 1))
                scan.dedup.append(dedup)
                for h in block:
                    scan.block.append(h)
                    scan.block_owner.append(n)
                if info in blocked_ids:
                    scan.id_blocked.append(n)
    finally:
        if pool is not None:
            pool.terminate()
    return scan


def _first_occurrence(hashes: np.ndarray) -> np.ndarray:
    keep = np.zeros(hashes.shape[0], dtype=bool)
    if hashes.size:
        _, first = np.unique(hashes, return_index=True)
        keep[first] = True
    return keep


def _filter(scan: _Scan, benchmark: dict[str, np.ndarray], extra_drop: np.ndarray | None = None
            ) -> tuple[np.ndarray, dict[str, Any]]:
    """Keep mask over a scan's valid items and the counts of each drop reason."""
    dedup = np.frombuffer(scan.dedup, dtype=np.uint64)
    n = dedup.shape[0]
    unique = _first_occurrence(dedup)
    block = np.frombuffer(scan.block, dtype=np.uint64)
    owner = np.frombuffer(scan.block_owner, dtype=np.int64)
    blocked = np.zeros(n, dtype=bool)
    per_benchmark: dict[str, dict[str, int]] = {}
    all_blocked = np.concatenate(list(benchmark.values())) if benchmark else np.zeros(0, dtype=np.uint64)
    if all_blocked.size:
        blocked[owner[np.isin(block, all_blocked)]] = True
        present = np.unique(block)
        for name, hashes in benchmark.items():
            per_benchmark[name] = {"benchmark_keys": int(hashes.size),
                                   "found_in_corpus": int(np.isin(hashes, present).sum())}
    id_blocked = np.zeros(n, dtype=bool)
    id_blocked[np.asarray(scan.id_blocked, dtype=np.int64)] = True
    if id_blocked.any():  # an item identical to a listed one (same dedup key) goes too, whatever its id
        id_blocked |= np.isin(dedup, dedup[id_blocked])
    keep = unique.copy()
    counts: dict[str, Any] = {"read": scan.read, "invalid": scan.invalid, "duplicates": int(n - unique.sum())}
    counts["benchmark_overlap"] = int((keep & blocked).sum())
    keep &= ~blocked
    counts["blocked_ids"] = int((keep & id_blocked).sum())
    keep &= ~id_blocked
    if extra_drop is not None:
        counts["in_train"] = int((keep & extra_drop).sum())
        keep &= ~extra_drop
    counts["kept"] = int(keep.sum())
    counts["invalid_examples"] = scan.invalid_examples
    counts["overlap_by_benchmark"] = per_benchmark
    return keep, counts


# --------------------------------------------------------------------------------------- preparation
def _fingerprint(cfg: PretrainConfig, domain: Domain, sources: list[Path | None], blocked_ids: Path | None) -> str:
    parts: list[Any] = [FORMAT_VERSION, domain.to_config(), cfg.max_items, cfg.max_val_items, cfg.val_fraction,
                        cfg.block_benchmarks, str(cfg.mirror_root()) if cfg.block_benchmarks else None,
                        cfg.benchmark_files]
    if cfg.block_label_splits is not None:  # (only then: fingerprints of earlier configs stay as they were)
        parts.append({"block_label_splits": sorted(int(s) for s in cfg.block_label_splits)})
    for path in [*sources, blocked_ids]:
        if path is None:
            parts.append(None)
        else:
            st = path.stat()
            parts.append([str(path.resolve()), st.st_size, int(st.st_mtime)])
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return f"{domain.name}-{digest}"


def benchmark_hashes(keyer: CorpusKeyer, mirror: Path, files: list[str] | None, cache: Path
                     ) -> dict[str, np.ndarray]:
    """Sorted ``uint64`` key hashes of each benchmark file, cached per file (path, size, mtime)."""
    out: dict[str, np.ndarray] = {}
    paths = [mirror / f for f in files] if files is not None else keyer.benchmark_files(mirror)
    if not paths:
        raise FileNotFoundError(f"no {keyer.name} benchmark files found under {mirror}")
    folder = cache / "benchmark_keys"
    folder.mkdir(parents=True, exist_ok=True)
    for path in paths:
        st = path.stat()
        tag = json.dumps([FORMAT_VERSION, keyer.name, str(path.resolve()), st.st_size, int(st.st_mtime)])
        cached = folder / f"{keyer.name}-{hashlib.sha256(tag.encode()).hexdigest()[:16]}.npy"
        if cached.exists():
            hashes = np.load(cached, allow_pickle=False)
        else:
            hashes = np.unique(hash_keys(sorted(keyer.file_keys(path))))
            write_with_atomic(cached, lambda fh, h=hashes: np.save(fh, h))
        out[bench_name(path)] = hashes
    return out


def _read_blocked_ids(path: Path | None) -> set[str]:
    """First column of a TSV/CSV (header line skipped): corpus record ids to drop."""
    if path is None:
        return set()
    lines = path.read_text().splitlines()[1:]
    sep = "\t" if path.suffix.lower() == ".tsv" else ","
    return {line.split(sep)[0].strip() for line in lines if line.strip()}


def prepare_corpus(cfg: PretrainConfig, log: Callable[[str], None] | None = None) -> PreparedCorpus:
    """Prepare (or reuse from the cache) the train/validation corpus that ``cfg`` describes.

    Drops, in order: invalid items, duplicates (first one kept), items matching a benchmark key
    (``cfg.block_benchmarks``), record ids listed in ``cfg.blocked_ids_file``, and validation items
    already in the training split. Counts of each land in ``stats.json`` and ``PreparedCorpus.stats``.
    """
    log = log or logging.getLogger(__name__).info  # the CLI shows sciptm's INFO records
    domain = get_domain(cfg.domain)
    keyer_name = domain.name
    train_path = cfg.resolve(cfg.train_source)
    val_path = cfg.resolve(cfg.val_source)
    ids_path = cfg.resolve(cfg.blocked_ids_file)
    folder = cfg.cache_root() / _fingerprint(cfg, domain, [train_path, val_path], ids_path)
    if (folder / "stats.json").exists():
        log(f"corpus: reusing prepared corpus {folder}")
        return _open(folder)

    start = time.time()
    workers = cfg.workers if cfg.workers > 0 else min(os.cpu_count() or 1, 16)
    benchmark: dict[str, np.ndarray] = {}
    if cfg.block_benchmarks:
        mirror = cfg.mirror_root()
        if mirror is None:
            raise ValueError("block_benchmarks=True needs the data mirror (mirror= or SCIPTM_DATA_MIRROR) "
                             "to read the benchmark sets; set block_benchmarks=False to skip filtering")
        benchmark = benchmark_hashes(KEYERS.get(keyer_name)(), mirror, cfg.benchmark_files, cfg.cache_root())
        log(f"corpus: {sum(len(k) for k in benchmark.values())} benchmark keys from {len(benchmark)} benchmark files")
    blocked_ids = _read_blocked_ids(ids_path)
    label_block: dict[str, Any] | None = None
    if cfg.block_label_splits is not None:
        if domain.name != "crystal":
            raise ValueError("block_label_splits applies to the crystal corpus (mp_formation_energy test rows)")
        from sciptm.pretraining.keys import label_split_ids

        split_ids, label_block = label_split_ids("mp_formation_energy", cfg.block_label_splits)
        blocked_ids |= split_ids
        log(f"corpus: {len(split_ids)} record ids of the mp_formation_energy test splits (seeds "
            f"{list(cfg.block_label_splits)}) blocked")

    cfg.cache_root().mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(f".tmp-{folder.name}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    domain_config = domain.to_config()
    with open(tmp / "texts.txt", "wb") as handle, open(tmp / "ids.txt", "wb") as ids_handle:
        log(f"corpus: scanning {train_path} with {workers} worker(s)")
        train_scan = _scan(train_path, cfg, cfg.max_items, handle, blocked_ids, workers, domain_config, keyer_name,
                           ids_handle)
        val_scan = None
        if val_path is not None:
            log(f"corpus: scanning {val_path}")
            val_scan = _scan(val_path, cfg, cfg.max_val_items, handle, blocked_ids, workers, domain_config,
                             keyer_name, ids_handle)

    train_keep, train_counts = _filter(train_scan, benchmark)
    train_ranges = np.frombuffer(train_scan.ranges, dtype=np.int64).reshape(-1, 2)
    train_dedup = np.frombuffer(train_scan.dedup, dtype=np.uint64)
    stats: dict[str, Any] = {"domain": domain_config, "train_source": str(train_path),
                             "val_source": str(val_path) if val_path else None, "blocked_ids_file":
                             str(ids_path) if ids_path else None, "keys": KEYERS.get(keyer_name).__doc__}
    if val_scan is None:  # hold out by key hash: deterministic, duplicates never straddle the split
        held = (train_dedup % np.uint64(1_000_000)) < np.uint64(int(cfg.val_fraction * 1_000_000))
        train_final, val_final = train_keep & ~held, train_keep & held
        train_counts["held_out_for_validation"] = int(val_final.sum())
        train_counts["kept"] = int(train_final.sum())
        val_ranges = train_ranges[val_final]
        stats["val"] = {"source": "held out from train by key hash", "fraction": cfg.val_fraction,
                        "kept": int(val_final.sum())}
        train_ranges = train_ranges[train_final]
        train_rows, val_rows = np.flatnonzero(train_final), np.flatnonzero(val_final)
    else:
        val_dedup = np.frombuffer(val_scan.dedup, dtype=np.uint64)
        val_keep, val_counts = _filter(val_scan, benchmark, np.isin(val_dedup, train_dedup[train_keep]))
        val_ranges = np.frombuffer(val_scan.ranges, dtype=np.int64).reshape(-1, 2)[val_keep]
        train_ranges = train_ranges[train_keep]
        train_rows, val_rows = np.flatnonzero(train_keep), len(train_dedup) + np.flatnonzero(val_keep)
        stats["val"] = val_counts
    stats["train"] = train_counts
    if label_block is not None:
        stats["label_split_block"] = label_block
    stats["seconds"] = round(time.time() - start, 1)
    if len(train_ranges) == 0 or len(val_ranges) == 0:
        raise ValueError(f"prepared corpus is empty (train {len(train_ranges)}, val {len(val_ranges)} items); "
                         f"invalid examples: {train_counts['invalid_examples']}")
    np.save(tmp / "train.npy", train_ranges)
    np.save(tmp / "val.npy", val_ranges)
    np.save(tmp / "train_rows.npy", train_rows.astype(np.int64))
    np.save(tmp / "val_rows.npy", val_rows.astype(np.int64))
    (tmp / "stats.json").write_text(json.dumps(stats, indent=2))
    try:
        os.replace(tmp, folder)
    except OSError:  # another process prepared the same corpus first
        shutil.rmtree(tmp, ignore_errors=True)
    log(f"corpus: {format_counts(stats)} ({stats['seconds']} s)")
    return _open(folder)


def _open(folder: Path) -> PreparedCorpus:
    stats = json.loads((folder / "stats.json").read_text())
    texts = folder / "texts.txt"
    return PreparedCorpus(folder, TextCorpus(texts, np.load(folder / "train.npy")),
                          TextCorpus(texts, np.load(folder / "val.npy")), stats)


def format_counts(stats: dict[str, Any]) -> str:
    """One line: read / invalid / duplicates / benchmark overlap / kept for train and validation."""
    parts = []
    for split in ("train", "val"):
        c = stats.get(split, {})
        if "read" in c:
            extra = f", {c['blocked_ids']} listed ids" if c.get("blocked_ids") else ""
            extra += f", {c['in_train']} also in train" if c.get("in_train") else ""
            extra += f", {c['held_out_for_validation']} held out" if c.get("held_out_for_validation") else ""
            parts.append(f"{split}: read {c['read']}, invalid {c['invalid']}, duplicates {c['duplicates']}, "
                         f"benchmark overlap {c['benchmark_overlap']}{extra}, kept {c['kept']}")
        else:
            parts.append(f"{split}: kept {c.get('kept')}")
    return "; ".join(parts)
