"""The results folder of ``sciptm bench``: the one contract its writer (the runner, Matbench) and its readers
(:class:`~sciptm.reports.BenchmarkResults`, the reports) share.

::

    <out>/results.json                               summary (rows without predictions, splits, environment)
    <out>/resolved_config.yaml                       the grid as resolved (written by the CLI)
    <out>/runs/<task>/<model dir>/seed<k>.json       one finished run, with its test predictions
    <out>/splits/<task>/<method>_seed<k>.json        the split that run used (hash recorded in results.json)
    <out>/matbench/<model dir>/results.json.gz       Matbench submission file

Model names are a small language (``sciptm/smiles-small@random:probe``); :func:`model_dir` turns one into a
folder name that every filesystem accepts: ``/`` becomes ``__`` (as always) and the characters Windows
refuses (``<>:"\\|?*``) and ``%`` are percent-encoded. Readers also find folders written by older versions
(``sciptm__smiles-small:probe``, with the ``:`` kept, and the raw name), so committed results keep loading.

>>> model_dir("sciptm/smiles-small:probe")
'sciptm__smiles-small%3Aprobe'
>>> layout = ResultsLayout("results")
>>> layout.run_file("esol", "org/x:probe", 2).as_posix()
'results/runs/esol/org__x%3Aprobe/seed2.json'
>>> layout.split_file("esol", "scaffold_balanced", 0).as_posix()
'results/splits/esol/scaffold_balanced_seed0.json'
"""
from __future__ import annotations

from pathlib import Path

_WINDOWS_RESERVED = '%<>:"\\|?*'  # "%" first: it is the escape character itself


def model_dir(model: str) -> str:
    """The folder name of ``model`` under ``runs/<task>/`` and ``matbench/`` (see the module docstring)."""
    out = str(model).replace("/", "__")
    for ch in _WINDOWS_RESERVED:
        out = out.replace(ch, f"%{ord(ch):02X}")
    return out


def legacy_model_dirs(model: str) -> list[str]:
    """Folder names older versions used for ``model``: ``/`` -> ``__`` only (the runner), and the raw name."""
    return list(dict.fromkeys(d for d in (str(model).replace("/", "__"), str(model)) if d != model_dir(model)))


class ResultsLayout:
    """Paths inside one results folder ``root`` (nothing is created until a writer writes)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"ResultsLayout({str(self.root)!r})"

    @property
    def results_json(self) -> Path:
        """``<root>/results.json``."""
        return self.root / "results.json"

    @property
    def resolved_config(self) -> Path:
        """``<root>/resolved_config.yaml``."""
        return self.root / "resolved_config.yaml"

    def run_dir(self, task: str, model: str) -> Path:
        return self.root / "runs" / task / model_dir(model)

    def run_file(self, task: str, model: str, seed: int) -> Path:
        """Where a run is written (and, for new folders, read)."""
        return self.run_dir(task, model) / f"seed{int(seed)}.json"

    def find_run(self, task: str, model: str, seed: int) -> Path | None:
        """The existing run file of ``(task, model, seed)``: the current name, else an older version's; ``None``
        when the run has not finished."""
        for name in (model_dir(model), *legacy_model_dirs(model)):
            path = self.root / "runs" / task / name / f"seed{int(seed)}.json"
            if path.is_file():
                return path
        return None

    def has_run(self, task: str, model: str, seed: int) -> bool:
        return self.find_run(task, model, seed) is not None

    def split_file(self, task: str, method: str, seed: int) -> Path:
        """The saved split of ``task`` made by ``method`` for ``seed`` (the fold, for k-fold methods); a method
        with a ``:`` (``column:fold``) is written with ``_`` (``column_fold``)."""
        return self.root / "splits" / task / f"{str(method).replace(':', '_')}_seed{int(seed)}.json"

    def split_files(self, task: str, seed: int) -> list[Path]:
        """Every saved split of ``task`` for ``seed`` (any method), sorted."""
        return sorted((self.root / "splits" / task).glob(f"*_seed{int(seed)}.json"))

    def run_files(self) -> list[Path]:
        """Every run file in the folder (``runs/<task>/<model dir>/seed<k>.json``), sorted."""
        return sorted((self.root / "runs").glob("*/*/seed*.json"))

    def all_split_files(self) -> list[Path]:
        """Every saved split in the folder (``splits/<task>/<method>_seed<k>.json``), sorted."""
        return sorted((self.root / "splits").glob("*/*.json"))

    def submission_file(self, model: str) -> Path:
        """The Matbench submission of ``model``: ``<root>/matbench/<model dir>/results.json.gz``."""
        return self.root / "matbench" / model_dir(model) / "results.json.gz"

    def find_submission(self, model: str) -> Path | None:
        for name in (model_dir(model), *legacy_model_dirs(model)):
            path = self.root / "matbench" / name / "results.json.gz"
            if path.is_file():
                return path
        return None


__all__ = ["ResultsLayout", "legacy_model_dirs", "model_dir"]
