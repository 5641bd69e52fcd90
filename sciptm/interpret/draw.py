"""Pictures of attributions: molecules (RDKit similarity maps) and residue heat maps (matplotlib)."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from sciptm.interpret.mapping import atom_scores as _atom_scores
from sciptm.interpret.mapping import residue_scores, smiles_mol
from sciptm.interpret.result import TokenAttribution


def draw_atom_attributions(
    smiles: str | TokenAttribution,
    atom_scores: Sequence[float] | np.ndarray | None = None,
    path: str | Path | None = None,
    fmt: Literal["png", "svg"] = "png",
    size: tuple[int, int] = (500, 400),
    legend: str = "",
    colormap: str = "bwr",
) -> bytes | str:
    """Draw per-atom scores on a molecule as an RDKit similarity map (red positive, blue negative).

    ``smiles`` is the text the scores refer to (atom ``i`` = ``i``-th atom token, see
    :func:`~sciptm.interpret.smiles_atom_spans`), or a SMILES :class:`TokenAttribution`, whose
    per-atom scores are used when ``atom_scores`` is omitted. Scores are scaled by their largest
    absolute value; NaN (truncated atoms) counts as 0. Returns PNG bytes or SVG text and writes
    ``path`` when given (the format follows ``fmt``).

    Example
    -------
    >>> svg = draw_atom_attributions("OC(=O)c1ccccc1", [1, .8, .9, 0, 0, 0, 0, 0, 0], fmt="svg")
    >>> svg.startswith("<?xml")
    True
    """
    from matplotlib import colormaps
    from rdkit.Chem import Draw, rdDepictor
    from rdkit.Chem.Draw import rdMolDraw2D
    from rdkit.Geometry import Point2D

    if isinstance(smiles, TokenAttribution):
        if atom_scores is None:
            atom_scores = _atom_scores(smiles)
        smiles = smiles.text
    if atom_scores is None:
        raise ValueError("pass atom_scores, or a TokenAttribution as the first argument")
    if fmt not in ("png", "svg"):
        raise ValueError(f"fmt must be 'png' or 'svg', not {fmt!r}")
    mol = smiles_mol(smiles)
    weights = np.nan_to_num(np.asarray(atom_scores, dtype=float))
    if weights.shape != (mol.GetNumAtoms(),):
        raise ValueError(f"{len(weights)} atom scores for {mol.GetNumAtoms()} atoms of {smiles!r}")
    # as rdkit.Chem.Draw.SimilarityMaps.GetSimilarityMapFromWeights (one Gaussian per atom, sigma =
    # 0.3 bond lengths), plus a legend and a coarser, thresholded grid for compact SVG
    mol = rdMolDraw2D.PrepareMolForDrawing(mol, addChiralHs=False)  # keeps atom indices
    rdDepictor.Compute2DCoords(mol)
    conf = mol.GetConformer()
    if mol.GetNumBonds():
        bond = mol.GetBondWithIdx(0)
        sigma = 0.3 * (conf.GetAtomPosition(bond.GetBeginAtomIdx()) - conf.GetAtomPosition(bond.GetEndAtomIdx())).Length()
    else:
        sigma = 0.45
    locs = [Point2D(conf.GetAtomPosition(i).x, conf.GetAtomPosition(i).y) for i in range(mol.GetNumAtoms())]
    drawer = rdMolDraw2D.MolDraw2DCairo(*size) if fmt == "png" else rdMolDraw2D.MolDraw2DSVG(*size)
    params = Draw.ContourParams()
    params.fillGrid = True
    params.gridResolution = 0.1 if fmt == "png" else 0.15
    params.extraGridPadding = 0.5
    params.useFillThreshold = fmt == "svg"  # SVG: leave near-zero cells out of the file
    params.fillThreshold = 0.02
    params.setColourMap([tuple(float(v) for v in c) for c in colormaps[colormap]([0.0, 0.5, 1.0])])
    scale = float(np.abs(weights).max()) or 1.0
    drawer.ClearDrawing()
    Draw.ContourAndDrawGaussians(drawer, locs, (weights / scale).tolist(), [sigma] * len(locs), nContours=6,
                                 params=params)
    drawer.drawOptions().clearBackground = False
    drawer.DrawMolecule(mol)  # a DrawMolecule legend would rescale the molecule away from the contours
    if legend:
        drawer.DrawString(legend, Point2D(size[0] / 2, size[1] - size[1] / 25), 0, rawCoords=True)
    drawer.FinishDrawing()
    data = drawer.GetDrawingText()
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "png":
            path.write_bytes(data)
        else:
            path.write_text(data)
    return data


def plot_residue_heatmap(
    scores: TokenAttribution | Sequence[float] | np.ndarray | pd.DataFrame,
    sequence: str | None = None,
    path: str | Path | None = None,
    ax: Any = None,
    title: str = "",
    cmap: str = "bwr",
    width: int = 60,
):
    """Heat map of per-residue scores; returns the matplotlib ``Figure`` (saved to ``path`` if given).

    ``scores`` is a protein :class:`TokenAttribution`, a 1-D array over residues (wrapped into rows
    of ``width`` residues, each cell labelled with its residue letter when ``sequence`` is given), or
    a DataFrame of mutations x positions (e.g. rows = substituted amino acid, columns = 1-based
    positions), drawn as one matrix. Colours are symmetric around 0.

    Example
    -------
    >>> fig = plot_residue_heatmap([0.1, -0.3, 0.8, 0.0], sequence="MKTA")
    >>> fig.axes[0].get_title()
    ''
    """
    from matplotlib.figure import Figure  # no pyplot: no global figure state, any backend

    if isinstance(scores, TokenAttribution):
        frame = residue_scores(scores)
        sequence = sequence or "".join(frame["residue"])
        scores = frame["score"].to_numpy()
    if isinstance(scores, pd.DataFrame):
        matrix = scores.to_numpy(dtype=float)
        row_labels, col_labels = [str(r) for r in scores.index], [str(c) for c in scores.columns]
        letters = None
    else:
        values = np.asarray(scores, dtype=float).ravel()
        if sequence is not None and len(sequence) != len(values):
            raise ValueError(f"{len(values)} scores for a sequence of {len(sequence)} residues")
        n_rows = int(np.ceil(len(values) / width)) if len(values) > width else 1
        cols = width if n_rows > 1 else len(values)
        matrix = np.full((n_rows, cols), np.nan)
        matrix.flat[: len(values)] = values
        row_labels = [str(r * cols + 1) for r in range(n_rows)]
        col_labels = None
        letters = None if sequence is None else [sequence[r * cols:(r + 1) * cols] for r in range(n_rows)]
    limit = float(np.nanmax(np.abs(matrix))) if np.isfinite(matrix).any() else 1.0
    limit = limit or 1.0
    if ax is None:
        fig_w = min(max(4.0, 0.22 * matrix.shape[1] + 1.5), 20.0)
        fig = Figure(figsize=(fig_w, 0.45 * matrix.shape[0] + 1.3))
        ax = fig.subplots()
    else:
        fig = ax.figure
    image = ax.imshow(matrix, cmap=cmap, vmin=-limit, vmax=limit, aspect="auto", interpolation="nearest")
    ax.set_yticks(range(matrix.shape[0]), row_labels)
    if col_labels is not None:
        step = max(1, len(col_labels) // 30)
        ax.set_xticks(range(0, len(col_labels), step), col_labels[::step], rotation=90)
        ax.set_xlabel("position")
    else:
        ax.set_xlabel("residue (row start = position)")
        if letters is not None and matrix.shape[1] <= 80:
            for r, row in enumerate(letters):
                for c, ch in enumerate(row):
                    ax.text(c, r, ch, ha="center", va="center", fontsize=7)
    ax.set_title(title)
    fig.colorbar(image, ax=ax, fraction=0.03, pad=0.02, label="attribution")
    fig.tight_layout()
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=150)
    return fig
