"""Reliability regressions in the data layer (issue 13): a cached file corrupted in place with its size and
mtime kept is caught, and a download server that drips bytes is abandoned with a clear message."""
from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import sciptm.datasets as sd
from sciptm.data.cards import CARDS
from sciptm.data.fetch import cache_path
from sciptm.data.integrity import forget_hashes, sha256_file
from sciptm.errors import DataIntegrityError, DataUnavailableError, SciptmError


def _cached_esol(mirror: Path) -> Path:
    card = CARDS["esol"]
    cached = cache_path(card, card.files[0])
    cached.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(mirror / "chem" / card.files[0].file, cached)
    return cached


def _flip_bit_keep_size_and_mtime(path: Path, offset: int = 500) -> None:
    st = path.stat()
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x02  # one bit, same length
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns


def test_reliability_cache_bitrot_with_size_and_mtime_kept_is_caught_by_a_new_process(
        mirror: Path, fresh_cache: Path) -> None:
    cached = _cached_esol(mirror)
    clean = sd.load("esol", progress=False)
    assert clean.data_sha256 == CARDS["esol"].files[0].sha256
    _flip_bit_keep_size_and_mtime(cached)
    forget_hashes()  # what a new process starts with
    with pytest.raises(DataIntegrityError, match=CARDS["esol"].files[0].sha256) as err:
        sd.load("esol", progress=False)
    assert str(cached) in str(err.value)


def test_reliability_cache_corrupted_in_place_during_a_process_is_caught(mirror: Path, fresh_cache: Path) -> None:
    cached = _cached_esol(mirror)
    assert len(sd.load("esol", progress=False)) == 1128
    _flip_bit_keep_size_and_mtime(cached, offset=900)
    with pytest.raises(DataIntegrityError, match="sha256 mismatch"):
        sd.load("esol", progress=False)  # same process: the ctime changed, so the file is hashed again


def test_reliability_recorded_hash_is_the_hash_of_the_bytes_read(mirror: Path, fresh_cache: Path) -> None:
    cached = _cached_esol(mirror)
    ds = sd.load("esol", progress=False)
    assert ds.data_sha256 == sha256_file(cached)
    again = sd.load("esol", progress=False)  # hashed once already in this process: not hashed again
    assert again.data_sha256 == ds.data_sha256


class _DripHandler(http.server.BaseHTTPRequestHandler):
    """Announces 4000 bytes and sends one byte every 20 ms (a download of 80 s) until the client leaves."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "4000")
        self.end_headers()
        try:
            for _ in range(4000):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.02)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, fmt: str, *args: object) -> None:
        pass


@pytest.fixture
def drip_server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_DripHandler))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def test_reliability_dripping_server_hits_the_total_deadline(fresh_cache: Path, drip_server: str,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCIPTM_DATA_URL", drip_server)
    monkeypatch.setenv("SCIPTM_DOWNLOAD_DEADLINE", "1.5")
    monkeypatch.setenv("SCIPTM_DOWNLOAD_MIN_RATE", "0")  # only the deadline
    t0 = time.monotonic()
    with pytest.raises(DataUnavailableError, match=r"not finished after 1.5 s") as err:
        sd.load("esol", progress=False)
    took = time.monotonic() - t0
    assert took < 5, took
    assert "SCIPTM_DOWNLOAD_DEADLINE" in str(err.value) and "of 3.9 KiB" in str(err.value)
    assert isinstance(err.value, SciptmError)
    assert _files_under(fresh_cache) == []  # no partial file left


def test_reliability_dripping_server_below_the_minimum_rate(fresh_cache: Path, drip_server: str,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCIPTM_DATA_URL", drip_server)
    monkeypatch.setenv("SCIPTM_DOWNLOAD_MIN_RATE", "1000")  # the server gives ~50 B/s
    monkeypatch.setenv("SCIPTM_DOWNLOAD_RATE_WINDOW", "1")
    t0 = time.monotonic()
    with pytest.raises(DataUnavailableError, match=r"too slow .*minimum is 1000 B/s"):
        sd.load("esol", progress=False)
    assert time.monotonic() - t0 < 5
    assert _files_under(fresh_cache) == []


def test_reliability_bad_download_setting_is_a_config_error(fresh_cache: Path, drip_server: str,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from sciptm.errors import ConfigError

    monkeypatch.setenv("SCIPTM_DATA_URL", drip_server)
    monkeypatch.setenv("SCIPTM_DOWNLOAD_DEADLINE", "soon")
    with pytest.raises(ConfigError, match="SCIPTM_DOWNLOAD_DEADLINE must be a number"):
        sd.load("esol", progress=False)
