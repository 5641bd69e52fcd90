"""The docs notebooks run top to bottom (small settings) and show what they promise.

Each notebook in ``docs/notebooks`` has a cell tagged ``parameters`` that starts with ``SMALL = False``;
the test flips it to ``SMALL = True`` (fewer rows, one or two epochs), executes the notebook with
nbclient in a ``python3`` kernel running this interpreter, fails on any cell error, and checks the
outputs that matter: the figures (``image/png``) and the tables (``text/html``). Each notebook's wall
time is printed (``pytest -s``); ``benchmarks/notebooks/time_notebooks.py`` times the full settings.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "docs" / "notebooks"
CELL_TIMEOUT = 600  # seconds per cell


def parameters_cell(nb) -> int:
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    if len(tagged) != 1:
        raise AssertionError(f"expected one cell tagged 'parameters', found {len(tagged)}")
    return tagged[0]


def set_parameters(nb, **overrides: object) -> None:
    """Flip ``SMALL = False`` to ``True`` in the parameters cell and append ``NAME = value`` overrides."""
    cell = nb.cells[parameters_cell(nb)]
    if "SMALL = False" not in cell.source:
        raise AssertionError("the parameters cell has no 'SMALL = False' line")
    cell.source = cell.source.replace("SMALL = False", "SMALL = True", 1)
    if overrides:
        cell.source += "\n# test overrides" + "".join(f"\n{k} = {v!r}" for k, v in overrides.items())


def run_notebook(name: str, workdir: Path, **overrides: object):
    """Execute one notebook in ``workdir``; returns (executed notebook, wall seconds)."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), f"{name} is committed with outputs"
    set_parameters(nb, **overrides)
    probe = nbformat.v4.new_code_cell("import sys; print('KERNEL', sys.prefix)")
    nb.cells.insert(0, probe)
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                                     resources={"metadata": {"path": str(workdir)}})
    t0 = time.perf_counter()
    client.execute()  # raises CellExecutionError on the first failing cell
    seconds = time.perf_counter() - t0
    printed = "".join(o.get("text", "") for o in nb.cells[0].outputs)
    kernel_prefix = printed.split("KERNEL ", 1)[1].splitlines()[0]
    assert Path(kernel_prefix).resolve() == Path(sys.prefix).resolve(), (
        f"the python3 kernel runs {kernel_prefix}, not this environment ({sys.prefix})")
    print(f"\n{name}: executed with small settings in {seconds:.1f} s")
    return nb, seconds


def outputs_of(nb, needle: str) -> list[dict]:
    """Outputs of the first code cell whose source contains ``needle``."""
    for cell in nb.cells:
        if cell.cell_type == "code" and needle in cell.source:
            return cell.outputs
    raise AssertionError(f"no code cell contains {needle!r}")


def has(outputs: list[dict], mime: str, contains: str = "") -> bool:
    return any(contains in str(o.get("data", {}).get(mime, "")) for o in outputs
               if o.get("output_type") in ("display_data", "execute_result") and mime in o.get("data", {}))


def no_errors(nb) -> None:
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            assert out.get("output_type") != "error", f"cell failed: {cell.source[:80]!r}"


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    # the kernel inherits the environment: keep it on few threads and without progress bars' noise
    monkeypatch.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "1"))
    monkeypatch.setenv("MKL_NUM_THREADS", os.environ.get("MKL_NUM_THREADS", "1"))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")


def test_every_notebook_is_tested() -> None:
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == [
        "01_chemistry.ipynb", "02_proteins.ipynb", "03_materials.ipynb"]


@pytest.mark.slow
def test_chemistry_notebook(mirror: Path, tmp_path: Path) -> None:
    nb, _ = run_notebook("01_chemistry.ipynb", tmp_path)
    no_errors(nb)
    assert has(outputs_of(nb, "view = sciptm.show_tokens"), "text/html", "sciptm-token")
    assert has(outputs_of(nb, "view.to_frame()"), "text/html", "<table")
    baseline = outputs_of(nb, "res = sciptm.benchmarks.run(")
    assert has(baseline, "text/html", "ecfp-rf") and has(baseline, "text/html", "rmse")
    assert has(outputs_of(nb, "scores = pd.DataFrame("), "text/html", "fine-tuned sciptm/smiles-small")
    assert has(outputs_of(nb, "fig, axes = plt.subplots(1, 2"), "image/png")    # parity plot
    assert has(outputs_of(nb, "worst = test["), "text/html", "<table")
    assert has(outputs_of(nb, "Draw.MolsToGridImage("), "image/png")           # worst molecules
    # the split, the baseline runs and results.json were written in the working folder
    assert (tmp_path / "notebook-out" / "01_chemistry" / "results.json").is_file()


@pytest.mark.slow
def test_proteins_notebook(mirror: Path, tmp_path: Path) -> None:
    nb, _ = run_notebook("02_proteins.ipynb", tmp_path)  # the shipped sciptm/protein-small
    no_errors(nb)
    assert has(outputs_of(nb, "sciptm.show_tokens(wt"), "text/html", "sciptm-token")
    zero_shot = outputs_of(nb, "zero_shot = score_mutations(")
    assert has(zero_shot, "text/html", "spearman") and has(zero_shot, "text/html", "single mutants")
    assert has(outputs_of(nb, "fine_tuned = model.predict("), "text/html", "fine-tuned on")
    assert has(outputs_of(nb, "grid_pred = pd.DataFrame("), "image/png")       # heat map
    assert has(outputs_of(nb, "per_site = "), "text/html", "<table")


@pytest.mark.slow
def test_materials_notebook(mirror: Path, tmp_path: Path) -> None:
    nb, _ = run_notebook("03_materials.ipynb", tmp_path)
    no_errors(nb)
    assert has(outputs_of(nb, 'tokens = sciptm.show_tokens(structure, domain="crystal")'), "text/html", "SG_")
    table = outputs_of(nb, "tokens.to_frame()")
    assert has(table, "text/html", "space group") and has(table, "text/html", "wyckoff")
    results = outputs_of(nb, "results = pd.DataFrame(")
    assert has(results, "text/html", "structure tokens: tiny encoder") and has(results, "text/html", "Magpie + RF")
    assert has(outputs_of(nb, "ax.barh("), "image/png")                        # MAE bar chart
    assert has(outputs_of(nb, "refs = pd.DataFrame("), "text/html", "RF-SCM/Magpie")
