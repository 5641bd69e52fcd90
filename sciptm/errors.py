"""Exceptions and warnings raised by sciptm.

Every place where user inputs enter sciptm (``encode``, ``embed``, ``fit``,
``predict``, dataset loading) reports bad inputs through these classes, naming
the row index, the offending value and the reason.
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


class InvalidInputError(ValueError):
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


class DataIntegrityError(RuntimeError):
    """A downloaded or cached file whose checksum does not match its dataset card."""


class UnknownNameError(KeyError):
    """A registry lookup for a name that is not registered (lists the known names)."""

    def __str__(self) -> str:  # KeyError quotes its message; show it plainly
        return str(self.args[0]) if self.args else ""
