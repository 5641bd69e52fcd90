"""Progress on long work, and how sciptm's log lines and warnings reach a terminal.

Library code asks for progress with ``show=True`` (:func:`progress_bar`, :class:`Progress`); whether anything
appears is decided here, from :func:`set_progress` or the ``SCIPTM_PROGRESS`` environment variable:

- ``auto`` (default): a rich bar (count, elapsed time, ETA, a status such as the last validation score) only
  when stderr is a terminal; nothing in logs, pipes or tests;
- ``always``: a bar on a terminal, otherwise one log line per tenth of the work (for batch-job logs);
- ``never``: nothing.

Bars started inside another bar (a fine-tuning run inside ``sciptm bench``) become extra lines of the same
display. :func:`configure_logging` (used by the command line) prints ``sciptm`` log records as plain lines
that interleave cleanly with the bars, and turns Python warnings into one ``warning: ...`` line each.

>>> from sciptm.progress import progress_bar
>>> sum(progress_bar(range(3), "counting"))  # no terminal here: no bar, same items
3
"""
from __future__ import annotations

import logging
import os
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

T = TypeVar("T")

MODES = ("auto", "always", "never")
_MODE: ContextVar[str | None] = ContextVar("sciptm_progress_mode", default=None)
_ACTIVE: ContextVar[tuple[Progress, ...]] = ContextVar("sciptm_active_progress", default=())
_LOCK = threading.RLock()
_LIVE: dict[str, Any] = {"progress": None, "users": 0}

log = logging.getLogger(__name__)


def progress_mode() -> str:
    """The current mode: :func:`set_progress`'s, else ``SCIPTM_PROGRESS``, else ``auto``."""
    mode = _MODE.get() or os.environ.get("SCIPTM_PROGRESS", "auto").strip().lower() or "auto"
    return mode if mode in MODES else "auto"


def set_progress(mode: str | bool | None) -> None:
    """Show progress ``"always"`` (``True``), ``"never"`` (``False``) or on a terminal only (``"auto"``/``None``)."""
    if isinstance(mode, bool):
        mode = "always" if mode else "never"
    if mode is not None and mode not in MODES:
        raise ValueError(f"progress must be one of {MODES}, not {mode!r}")
    _MODE.set(mode)


def console() -> Any:
    """The rich console on stderr that bars and the CLI's log lines share."""
    from rich.console import Console

    return Console(stderr=True)


def is_terminal() -> bool:
    """Whether stderr is an interactive terminal."""
    stream = sys.stderr
    return bool(getattr(stream, "isatty", None) and stream.isatty()) and os.environ.get("TERM") != "dumb"


def progress_enabled(show: bool | None = True) -> bool:
    """Whether a bar asked for with ``show`` is displayed (see the module docs)."""
    mode = progress_mode()
    return bool(show) and mode != "never" and (mode == "always" or is_terminal())


class Progress:
    """Progress of one piece of work: ``with Progress(total, "embedding") as p: ... p.advance(status=...)``.

    Shows a rich bar on a terminal, a log line per tenth of the work when forced on elsewhere, and nothing
    otherwise (see :func:`progress_enabled`). ``status`` is a short text shown after the bar (the last
    epoch's scores, the run in progress).
    """

    def __init__(self, total: int | None, description: str, show: bool | None = True, transient: bool = True):
        self.total, self.description, self.transient = total, description, transient
        self.enabled = progress_enabled(show)
        self.rich = self.enabled and is_terminal()
        self.done = 0
        self.status_text = ""
        self._task: Any = None
        self._token: Any = None
        self._last_log = -1

    # ------------------------------------------------------------------ display
    def __enter__(self) -> Progress:
        if self.rich:
            with _LOCK:
                if _LIVE["progress"] is None:
                    _LIVE["progress"] = _rich_progress()
                    _LIVE["progress"].start()
                _LIVE["users"] += 1
                self._task = _LIVE["progress"].add_task(self.description, total=self.total, status="")
        self._token = _ACTIVE.set((*_ACTIVE.get(), self))
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._token is not None:
            try:
                _ACTIVE.reset(self._token)
            except ValueError:  # closed from another context (a generator finalised elsewhere)
                _ACTIVE.set(tuple(p for p in _ACTIVE.get() if p is not self))
            self._token = None
        if self.rich and self._task is not None:
            with _LOCK:
                bar = _LIVE["progress"]
                if self.transient or _LIVE["users"] > 1:
                    bar.remove_task(self._task)
                _LIVE["users"] -= 1
                if _LIVE["users"] <= 0:
                    bar.stop()
                    _LIVE["progress"], _LIVE["users"] = None, 0
            self._task = None
        elif self.enabled and self.done and self._last_log != self.done:
            self._log()

    def advance(self, n: int = 1, status: str | None = None) -> None:
        """``n`` more items done; ``status`` replaces the status text."""
        self.done += n
        if status is not None:
            self.status_text = status
        if self.rich and self._task is not None:
            _LIVE["progress"].update(self._task, advance=n, status=self.status_text)
        elif self.enabled:
            step = max(1, (self.total or 10) // 10)
            if self.done // step != max(self._last_log, 0) // step or self.done == self.total:
                self._log()

    def status(self, text: str) -> None:
        """Replace the status text without advancing."""
        self.status_text = text
        if self.rich and self._task is not None:
            _LIVE["progress"].update(self._task, status=text)

    def _log(self) -> None:
        self._last_log = self.done
        of = f"/{self.total}" if self.total else ""
        log.info("%s: %d%s%s", self.description, self.done, of, f" ({self.status_text})" if self.status_text else "")


def _rich_progress() -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
    from rich.progress import Progress as RichProgress

    return RichProgress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        TextColumn("eta"), TimeRemainingColumn(), TextColumn("{task.fields[status]}"),
                        console=console(), transient=True, redirect_stdout=True, redirect_stderr=True)


def progress_bar(items: Iterable[T], description: str, show: bool | None = True, total: int | None = None) -> Iterator[T]:
    """Iterate ``items``, showing a bar when ``show`` and :func:`progress_enabled` allow it. Inside the loop,
    :func:`set_status` writes a status text after the bar."""
    if not progress_enabled(show):
        yield from items
        return
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with Progress(total, description, show) as bar:
        for item in items:
            yield item
            bar.advance()


def set_status(text: str) -> None:
    """Show ``text`` after the innermost bar in progress (nothing when none is shown)."""
    active = _ACTIVE.get()
    if active:
        active[-1].status(text)


def epoch_status(row: dict[str, Any], best_score: float | None = None, best_epoch: int | None = None,
                 metric: str = "valid") -> str:
    """The status text of a fine-tuning epoch: training loss, validation score and the best one so far."""
    text = f"loss {row.get('train_loss', float('nan')):.4g}"
    if row.get("valid_score") is not None:
        text += f" · {metric} {row['valid_score']:.4g}"
        if best_score is not None and best_epoch is not None:
            text += f" (best {best_score:.4g} at epoch {best_epoch + 1})"
    return text


# ---------------------------------------------------------------------- transformers' own output
@contextmanager
def quiet_transformers(reports: bool = True) -> Iterator[None]:
    """No tqdm bars from ``transformers`` (weight loading, shard writing) inside the block, and, with ``reports``,
    no warnings below errors either: no ``LOAD REPORT`` tables (for sciptm's own folders, whose missing or unused
    keys are expected) and no notes on sharding plans."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:  # pragma: no cover - transformers is a core dependency
        yield
        return
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    quiet = [logging.getLogger("transformers")]  # its modules' loggers inherit this level
    levels = [lg.level for lg in quiet]
    if reports:
        for lg in quiet:
            lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        if bars:
            hf_logging.enable_progress_bar()
        for lg, level in zip(quiet, levels):
            lg.setLevel(level)


# ---------------------------------------------------------------------- logging for the command line
class _LineHandler(logging.Handler):
    """One plain line per record on stderr (through the rich console while a bar is shown)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            msg = self.format(record)
            if record.levelno >= logging.WARNING and not msg.lower().startswith(("warning", "error")):
                msg = f"{record.levelname.lower()}: {msg}"
            with _LOCK:
                bar = _LIVE["progress"]
                if bar is not None:
                    bar.console.print(msg, markup=False, highlight=False, soft_wrap=True)
                    return
            sys.stderr.write(msg + "\n")
            sys.stderr.flush()
        except Exception:  # noqa: BLE001 - logging must never raise
            self.handleError(record)


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: Any = None, line: str | None = None) -> None:
    """``warnings.showwarning`` for the CLI: one line through logging, no file path or source line."""
    text = " ".join(str(message).split())
    kind = "" if category in (UserWarning, RuntimeWarning) else f" ({category.__name__})"
    logging.getLogger("sciptm").warning("warning: %s%s", text, kind)


def configure_logging(verbosity: int = 0) -> Callable[[], None]:
    """Set up output for the command line and return a function that undoes it.

    ``verbosity`` -1 (quiet: warnings and errors only, no bars), 0 (sciptm's info lines), 1 (debug lines),
    2 (other libraries' info lines too). Records of the ``sciptm`` loggers become plain lines on stderr, and
    Python warnings one ``warning: ...`` line each (no file path, no source line).
    """
    root = logging.getLogger("sciptm")
    others = [logging.getLogger(n) for n in ("transformers", "accelerate", "optuna", "ray")]
    saved = (root.level, list(root.handlers), [lg.level for lg in others], warnings.showwarning)
    for handler in [h for h in root.handlers if isinstance(h, _LineHandler)]:
        root.removeHandler(handler)
    handler = _LineHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.WARNING if verbosity < 0 else logging.DEBUG if verbosity > 0 else logging.INFO)
    token = _MODE.set("never") if verbosity < 0 else None
    for lg in others:
        lg.setLevel(logging.INFO if verbosity > 1 else logging.ERROR)
    warnings.showwarning = _show_warning

    def restore() -> None:
        root.setLevel(saved[0])
        root.handlers[:] = saved[1]
        for lg, level in zip(others, saved[2]):
            lg.setLevel(level)
        warnings.showwarning = saved[3]
        if token is not None:
            try:
                _MODE.reset(token)
            except ValueError:  # reset from another context: fall back to the default
                _MODE.set(None)

    return restore


__all__ = [
    "MODES",
    "Progress",
    "configure_logging",
    "console",
    "epoch_status",
    "is_terminal",
    "progress_bar",
    "progress_enabled",
    "progress_mode",
    "quiet_transformers",
    "set_progress",
    "set_status",
]
