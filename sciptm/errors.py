"""Exceptions and warnings raised by sciptm.

Every place where user inputs enter sciptm (``encode``, ``embed``, ``fit``,
``predict``, dataset loading) reports bad inputs through these classes, naming
the row index, the offending value and the reason.

All of them derive from :class:`SciptmError` (and keep a builtin base, so
``except ValueError`` still catches an :class:`InvalidInputError`). The command
line prints a :class:`SciptmError` as one ``error: ...`` line with exit code 2;
any other exception is treated as a bug and shows its traceback.

=========================  ======================  =====================================
class                      builtin base            raised for
=========================  ======================  =====================================
``InvalidInputError``      ``ValueError``          an input row that cannot be used
``InvalidLabelError``      ``ValueError``          a label that is not a finite number
``ConfigError``            ``ValueError``          a bad setting, option or config file
``UnknownNameError``       ``KeyError``            a name no registry knows
``DataIntegrityError``     ``RuntimeError``        a file whose checksum/content is wrong
``DataUnavailableError``   ``FileNotFoundError``   a dataset file nowhere to be found
``MissingFileError``       ``FileNotFoundError``   a user-given file or folder is missing
``InvalidFileError``       ``ValueError``          a file that is not the CSV/FASTA/CIF it should be
``CheckpointError``        ``ValueError``          weights that do not fit the model
``RunsFailedError``        ``RuntimeError``        every run of a benchmark command failed
=========================  ======================  =====================================
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class InvalidRecord:
    """One rejected input: its row index, the value as given and why it was rejected."""

    index: int | str
    value: Any
    reason: str

    def __str__(self) -> str:
        shown = repr(self.value)
        if len(shown) > 120:
            shown = shown[:117] + "..."
        return f"row {self.index}: {shown}: {self.reason}"


class SciptmError(Exception):
    """Base class of every error sciptm raises on purpose (a user error, never a bug)."""


class InvalidInputError(SciptmError, ValueError):
    """An input that cannot be turned into tokens (bad SMILES, bad residue, bad CIF...).

    Attributes
    ----------
    records:
        The :class:`InvalidRecord` objects found (at least one).

    Example
    -------
    >>> import sciptm
    >>> try:
    ...     sciptm.Encoder.from_config(domain="smiles", size="tiny").encode(["CCO", "C1CC"])
    ... except sciptm.errors.InvalidInputError as err:
    ...     print(err.records[0].index)
    1
    """

    def __init__(self, records: list[InvalidRecord] | InvalidRecord, message: str | None = None):
        if isinstance(records, InvalidRecord):
            records = [records]
        self.records = list(records)
        if message is None:
            head = str(self.records[0])
            more = f" (and {len(self.records) - 1} more invalid rows)" if len(self.records) > 1 else ""
            message = f"invalid input at {head}{more}"
        super().__init__(message)


class SkippedInputWarning(UserWarning):
    """Emitted when ``errors="skip"`` dropped invalid inputs; the message lists which."""


class InvalidLabelError(SciptmError, ValueError):
    """A label that cannot be trained on: not a number, infinite, or a target column without any label.

    The message names the target column and the row (``row`` and ``column`` attributes, ``None``
    when the whole column is at fault).
    """

    def __init__(self, message: str, column: str | None = None, row: Any = None):
        self.column, self.row = column, row
        super().__init__(message)


class TruncatedInputWarning(UserWarning):
    """Inputs longer than the model's maximum length were cut to it; ``rows`` lists their positions."""

    def __init__(self, message: str, rows: list[int] | None = None):
        self.rows = list(rows or [])
        super().__init__(message)


class ConfigError(SciptmError, ValueError):
    """A bad config file, setting, option or keyword value (the CLI prints it as one line)."""


class MissingFileError(SciptmError, FileNotFoundError):
    """A file or folder the user named does not exist."""


class InvalidFileError(SciptmError, ValueError):
    """A user's file that cannot be read as what it should be (CSV, FASTA, CIF, YAML), or lacks a needed column."""


class DataUnavailableError(SciptmError, FileNotFoundError):
    """A dataset file that is in no cache or mirror and could not be downloaded."""


class CheckpointError(SciptmError, ValueError):
    """A checkpoint that cannot be loaded into its model (unreadable file, missing encoder weights)."""


class DataIntegrityError(SciptmError, RuntimeError):
    """A downloaded or cached file whose checksum does not match its dataset card."""


class RunsFailedError(SciptmError, RuntimeError):
    """Every run of a benchmark command failed; the message shows the first run's real error."""


class UnknownNameError(SciptmError, KeyError):
    """A registry lookup for a name that is not registered (lists the known names)."""

    def __str__(self) -> str:  # KeyError quotes its message; show it plainly
        return str(self.args[0]) if self.args else ""
