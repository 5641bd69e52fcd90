"""Fuzz targets shared by the in-suite property tests (``tests/fuzz/test_fuzz_inputs.py``, ~50-100 inputs each)
and the long run (``benchmarks/fuzz/run_fuzz.py``, >= 10,000 inputs each).

Each :class:`Target` pairs a Hypothesis strategy of hostile inputs (seeded from real data and mutated, plus
arbitrary text, bytes and non-string objects) with a ``check`` that feeds one input to sciptm. The only allowed
outcomes are:

``"valid"``
    a result that passes the target's sanity checks, or
``"typed"``
    a :class:`~sciptm.errors.SciptmError` that names the input (the row index for row inputs, the file for
    files, the value for names).

Anything else (another exception, an untyped error, a typed error that does not name the input, a result that
fails its sanity check) propagates, and Hypothesis shrinks it to a minimal example.
"""
from __future__ import annotations

import contextlib
import io
import math
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import strategies as st

from sciptm.errors import InvalidInputError, SciptmError

REPO = Path(__file__).resolve().parents[2]
WORK = Path(tempfile.mkdtemp(prefix="sciptm-fuzz-"))

# ----------------------------------------------------------------------------------------------- seed data

SMILES_SEEDS = ("CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "C[C@H](N)C(=O)O", "[Na+].[Cl-]", "O=C=O",
                "ClC(Cl)(Cl)Cl", "CCN(CC)CC", "C1CC1C#N", "c1ccc2ccccc2c1", "OC[C@@H]1OC(O)[C@H](O)[C@@H](O)[C@@H]1O",
                "CC(C)Cc1ccc(cc1)[C@@H](C)C(=O)O", "[2H]C([2H])([2H])O", "F/C=C/F", "N#N")
SMILES_ALPHABET = tuple("CNOSPFIBrclnosp()[]=#@+-\\/%0123456789.*:H ") + ("\t", "\n", "\r", "\xa0", "\u2003", "Cl",
                                                                          "Br", "[nH]", "[C@@]")
WHITESPACE = (" ", "\t", "\n", "\r", "\x0b", "\x0c", "\xa0", "\u2003", "\u3000")

GB1_WT = "MQYKLILNGKTLKGETTTEAVDAATAEKVFKQYANDNGVDGEWTYDDATKTFTVTE"
PROTEIN_SEEDS = (GB1_WT, "MKTAYIAKQRQISFVKSHFSRQ", "ACDEFGHIKLMNPQRSTVWY", "MSKGEELFTGVVPILVELDGDVNGHKFSVSGEG")
PROTEIN_ALPHABET = tuple("ACDEFGHIKLMNPQRSTVWYXBZUOJ*-.acdefghiklmnpqrstvwy 1\n") + ("\u00c5", "\u03b1")

ELEMENTS = ("H", "Li", "C", "N", "O", "Na", "Mg", "Al", "Si", "P", "S", "Cl", "K", "Ca", "Ti", "Fe", "Cu", "Zn",
            "Ga", "As", "Sr", "Ba", "La", "Pb", "U", "Og", "Xx", "Q", "D", "T", "e", "Nn")
COMPOSITION_SEEDS = ("NaCl", "Fe2O3", "SrTiO3", "Li0.5CoO2", "Ca(OH)2", "Ba2YCu3O7", "Si", "GaAs", "Al2(SO4)3")


@lru_cache(maxsize=1)
def cif_seeds() -> tuple[str, ...]:
    """CIF texts of a few real structures (rock salt, diamond Si, cubic perovskite, wurtzite-like ZnO)."""
    from pymatgen.core import Lattice, Structure
    from pymatgen.io.cif import CifWriter

    structures = [
        Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]),
        Structure.from_spacegroup("Fd-3m", Lattice.cubic(5.43), ["Si"], [[0, 0, 0]]),
        Structure.from_spacegroup("Pm-3m", Lattice.cubic(3.9), ["Sr", "Ti", "O"],
                                  [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0]]),
        Structure.from_spacegroup("P6_3mc", Lattice.hexagonal(3.25, 5.2), ["Zn", "O"],
                                  [[1 / 3, 2 / 3, 0], [1 / 3, 2 / 3, 0.38]]),
    ]
    return tuple(str(CifWriter(s)) for s in structures)


def csv_seeds() -> tuple[str, ...]:
    return ("smiles,y\nCCO,1.0\nc1ccccc1,2.5\nCC(=O)O,-0.3\n",
            "smiles,y\n\"CCO\",1\n\"C,C\",2\n",
            "smiles,y,z\nCCO,1,2\nCCN,,3\n",
            "y,smiles\n0.1,O\n0.2,N\n")


FASTA_SEEDS = (f">gb1 wild type\n{GB1_WT}\n>var1\n{GB1_WT[:20]}\n{GB1_WT[20:]}\n", ">a\nACDEF\n>b\n\n>c\nMK*\n",
               ">only\nMKTAYIAKQRQISFVKSHFSRQ\n")

YAML_SEEDS = ("name: esol\n", "name: esol\nconfig: null\n", "{name: freesolv}\n", "# nothing\n", "name: [esol]\n")
YAML_TOKENS = ("name", "config", "bogus", ":", " ", "\n", "- ", "{", "}", "[", "]", "esol", "tox21", "null", "~", "1",
               "1e400", ".nan", "&a", "*a", "!!python/object/apply:os.system [\"true\"]", "!!binary aGk=", "\t", "'",
               '"', "%YAML 1.2\n---\n", "---\n", "...\n", "<<: *a", "?", "|", ">", "\x00", "\ufeff")

MODEL_BASES = ("tiny", "small", "base", "huge", "sciptm/smiles-small", "sciptm/none", "ecfp-rf", "mean", "..", ".",
               "/", "", " ", "org/name", "tiny@random", "@random", "chgnet/0.3.0", "dc-multitask", "a" * 200)
MODEL_PARTS = ("", "@random", "+rdkit2d", "+magpie", "+", "+bogus", ":probe", ":prob", "::probe", ":probe:probe",
               "+rdkit2d:probe", "@random:probe", " ", "\n", "\x00")


# ----------------------------------------------------------------------------------------------- strategies


@st.composite
def mutated(draw: Any, seeds: tuple[str, ...] | Callable[[], tuple[str, ...]], alphabet: tuple[str, ...],
            max_edits: int = 4) -> str:
    """A seed string with a few character insertions, deletions and substitutions."""
    pool = seeds() if callable(seeds) else seeds
    chars = list(draw(st.sampled_from(pool)))
    for _ in range(draw(st.integers(0, max_edits))):
        op = draw(st.sampled_from(("insert", "delete", "replace")))
        i = draw(st.integers(0, len(chars)))
        c = draw(st.sampled_from(alphabet))
        if op == "insert":
            chars.insert(i, c)
        elif chars and i < len(chars):
            if op == "delete":
                del chars[i]
            else:
                chars[i] = c
    return "".join(chars)


@st.composite
def line_mutated(draw: Any, seeds: Callable[[], tuple[str, ...]] | tuple[str, ...]) -> str:
    """A multi-line seed with lines dropped, repeated, swapped or with numbers replaced by odd values."""
    pool = seeds() if callable(seeds) else seeds
    lines = draw(st.sampled_from(pool)).splitlines()
    numbers = ("0", "-1", "1e400", "nan", "inf", "1e-30", "999999", "0.5", "?", ".", "")
    for _ in range(draw(st.integers(0, 4))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(("drop", "repeat", "swap", "number", "chars")))
        if op == "drop":
            del lines[i]
        elif op == "repeat":
            lines.insert(i, lines[i])
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "number":
            words = lines[i].split(" ")
            k = draw(st.integers(0, len(words) - 1))
            words[k] = draw(st.sampled_from(numbers))
            lines[i] = " ".join(words)
        else:
            lines[i] = draw(mutated((lines[i],), tuple("abc019 .-_'\";#\t") + ("\x00",), 3)) if lines[i] else lines[i]
    return "\n".join(lines) + draw(st.sampled_from(("\n", "", "\n\n")))


def joined(alphabet: tuple[str, ...], max_size: int) -> st.SearchStrategy[str]:
    """Strings made of ``alphabet``'s pieces (which may be longer than one character)."""
    return st.lists(st.sampled_from(alphabet), max_size=max_size).map("".join)


ODD_OBJECTS = st.one_of(st.none(), st.just(float("nan")), st.integers(), st.floats(allow_nan=True),
                        st.binary(max_size=8), st.lists(st.integers(), max_size=2), st.booleans())


def with_odd(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly ``strategy``, sometimes arbitrary text or a non-string object."""
    return st.one_of(strategy, strategy, strategy, st.text(max_size=30), ODD_OBJECTS)


def smiles_inputs() -> st.SearchStrategy[Any]:
    seeds_with_space = st.builds(lambda s, w, i: s[:i % (len(s) + 1)] + w + s[i % (len(s) + 1):],
                                 st.sampled_from(SMILES_SEEDS), st.sampled_from(WHITESPACE), st.integers(0, 60))
    return with_odd(st.one_of(mutated(SMILES_SEEDS, SMILES_ALPHABET),
                              joined(SMILES_ALPHABET, 40), seeds_with_space))


def protein_inputs() -> st.SearchStrategy[Any]:
    return with_odd(st.one_of(mutated(PROTEIN_SEEDS, PROTEIN_ALPHABET, 6),
                              joined(PROTEIN_ALPHABET, 80)))


def mutation_inputs() -> st.SearchStrategy[Any]:
    residues = tuple("ACDEFGHIKLMNPQRSTVWY") + ("X", "*", "-", "a", "", "AA", "1")
    token = st.builds(lambda a, p, b: f"{a}{p}{b}", st.sampled_from(residues),
                      st.one_of(st.integers(-3, len(GB1_WT) + 3), st.sampled_from((0, 10**6, 10**30))),
                      st.sampled_from(residues))
    exact = st.builds(lambda p, b: f"{GB1_WT[p - 1]}{p}{b}", st.integers(1, len(GB1_WT)), st.sampled_from(residues))
    several = st.builds(lambda toks, sep: sep.join(toks), st.lists(st.one_of(token, exact), min_size=1, max_size=4),
                        st.sampled_from((":", ",", " : ", ";", "", ":")))
    return with_odd(st.one_of(several, st.sampled_from(("", "WT", "wt", "_wt", ":", "::", "A1")),
                              joined(tuple("ACDEFGKLMPQRSTVWY0123456789:,_ "), 20)))


def composition_inputs() -> st.SearchStrategy[Any]:
    amount = st.sampled_from(("", "1", "2", "0", "0.5", "-1", "1e400", "nan", "1e-30", "100", "1.5.2", "(", ")"))
    formula = st.builds(lambda parts: "".join(e + a for e, a in parts),
                        st.lists(st.tuples(st.sampled_from(ELEMENTS), amount), min_size=1, max_size=5))
    as_dict = st.dictionaries(st.sampled_from(ELEMENTS), st.one_of(st.floats(allow_nan=True), st.integers(-2, 5)),
                              max_size=4)
    return with_odd(st.one_of(formula, mutated(COMPOSITION_SEEDS, tuple("()0123456789.-+ ") + ELEMENTS), as_dict))


def cif_inputs() -> st.SearchStrategy[str]:
    return st.one_of(line_mutated(cif_seeds), line_mutated(cif_seeds), st.text(max_size=200))


def csv_inputs() -> st.SearchStrategy[bytes]:
    text = st.one_of(line_mutated(csv_seeds), mutated(csv_seeds, tuple(",;\"'\n\r\t x1.") + ("\x00", "\xff"), 6))
    return st.one_of(text.map(lambda t: t.encode("utf-8")), st.binary(max_size=60),
                     text.map(lambda t: t.encode("utf-16")), st.just(b""), st.just(b"smiles,y\n"))


def fasta_inputs() -> st.SearchStrategy[bytes]:
    text = st.one_of(line_mutated(FASTA_SEEDS), mutated(FASTA_SEEDS, tuple(">;ACDXZ*\n \t1") + ("\x00",), 6))
    return st.one_of(text.map(lambda t: t.encode("utf-8")), st.binary(max_size=60), st.just(b""))


def yaml_inputs() -> st.SearchStrategy[str]:
    tokens = st.lists(st.sampled_from(YAML_TOKENS), max_size=12).map("".join)
    return st.one_of(tokens, mutated(YAML_SEEDS, YAML_TOKENS, 4), st.text(max_size=40))


def model_name_inputs() -> st.SearchStrategy[Any]:
    built = st.builds(lambda b, parts: b + "".join(parts), st.sampled_from(MODEL_BASES),
                      st.lists(st.sampled_from(MODEL_PARTS), max_size=3))
    return st.one_of(built, built, st.text(max_size=20), st.none(), st.integers())


# ----------------------------------------------------------------------------------------------- checks


def _named_row(err: InvalidInputError, value: Any) -> None:
    rec = err.records[0]
    assert rec.index == 0, f"error names row {rec.index!r}, not 0: {err}"
    same = rec.value is value or rec.value == value or (isinstance(value, float) and math.isnan(value))
    assert same, f"error names value {rec.value!r}, not the input {value!r}"
    assert "row 0" in str(err), f"message does not name the row: {err}"


@lru_cache(maxsize=None)
def _domain(spec: str) -> Any:
    from sciptm.domains import get_domain

    name, _, kind = spec.partition(":")
    return get_domain({"name": name, "kind": kind} if kind else name)


@lru_cache(maxsize=None)
def _tokenizer(spec: str) -> Any:
    return _domain(spec).build_tokenizer()


def check_rows(spec: str, item: Any, tokenize: bool = True) -> str:
    """``Domain.prepare([item])``: a valid text (that the domain's tokenizer turns into ids) or an
    :class:`InvalidInputError` naming row 0 and the value."""
    dom = _domain(spec)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            prepared = dom.prepare([item], errors="raise")
        except InvalidInputError as err:
            _named_row(err, item)
            return "typed"
    assert prepared.valid.tolist() == [True] and len(prepared.texts) == 1, prepared
    text = prepared.texts[0]
    assert isinstance(text, str) and text.strip(), f"empty text for {item!r}"
    if spec == "smiles":
        assert not any(c.isspace() for c in text), f"whitespace kept in {text!r} from {item!r}"
    if tokenize:
        ids = _tokenizer(spec)([text])["input_ids"][0]
        assert len(ids) >= 1
    return "valid"


def check_smiles(item: Any) -> str:
    return check_rows("smiles", item)


def check_protein(item: Any) -> str:
    return check_rows("protein", item)


def check_composition(item: Any) -> str:
    return check_rows("crystal:composition", item, tokenize=False)


def check_cif_text(item: Any) -> str:
    return check_rows("crystal:structure", item, tokenize=False)


def check_mutations(item: Any) -> str:
    from sciptm.domains.protein.mutations import apply_mutations

    try:
        out = apply_mutations(GB1_WT, [item])
    except InvalidInputError as err:
        _named_row(err, item)
        return "typed"
    assert len(out) == 1 and len(out[0]) == len(GB1_WT), out
    return "valid"


_COUNTER = iter(range(10**12))


def _file(data: bytes | str, suffix: str) -> Path:
    path = WORK / f"in{next(_COUNTER)}{suffix}"
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


def _names_file(err: BaseException, path: Path) -> None:
    assert str(path) in str(err) or path.name in str(err), f"error does not name the file {path}: {err}"


def check_csv(data: bytes) -> str:
    """``sciptm.datasets.from_csv``: a Dataset whose rows are the file's, or a typed error naming the file."""
    import sciptm.datasets as sd

    path = _file(data, ".csv")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = sd.from_csv(path, input="smiles", targets=["y"], task="regression")
    except SciptmError as err:
        _names_file(err, path)
        return "typed"
    finally:
        path.unlink(missing_ok=True)
    assert "smiles" in ds.df.columns and "y" in ds.df.columns and len(ds) == ds.card.n_rows
    return "valid"


def check_fasta(data: bytes) -> str:
    """``read_fasta`` then the protein domain on its sequences (errors skipped): a table or a typed error."""
    from sciptm.domains.protein.io import read_fasta

    path = _file(data, ".fasta")
    try:
        df = read_fasta(path)
    except SciptmError as err:
        _names_file(err, path)
        return "typed"
    finally:
        path.unlink(missing_ok=True)
    assert list(df.columns) == ["id", "description", "sequence"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prepared = _domain("protein").prepare(df["sequence"], errors="skip")
    assert len(prepared.valid) == len(df)
    return "valid"


def check_cif_file(text: str) -> str:
    """A ``.cif`` file given as a path to the crystal domain."""
    path = _file(text, ".cif")
    try:
        return check_rows("crystal:structure", path, tokenize=False)
    finally:
        path.unlink(missing_ok=True)


def check_yaml_file(text: str) -> str:
    """``read_yaml_mapping``: a dict or a :class:`ConfigError` naming the file."""
    from sciptm.cli.config import read_yaml_mapping

    path = _file(text, ".yaml")
    try:
        data = read_yaml_mapping(path)
    except SciptmError as err:
        _names_file(err, path)
        return "typed"
    finally:
        path.unlink(missing_ok=True)
    assert isinstance(data, dict)
    return "valid"


def check_yaml_cli(text: str) -> str:
    """``sciptm datasets info --config FILE``: exit 0, or exit 2 with exactly one ``error:`` line."""
    from sciptm.cli.main import main

    path = _file(text, ".yaml")
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(["datasets", "info", "--config", str(path)])
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
    finally:
        path.unlink(missing_ok=True)
    errors = [line for line in err.getvalue().splitlines() if line.startswith("error:")]
    if code == 0:
        return "valid"
    assert code == 2 and len(errors) == 1 and "Traceback" not in err.getvalue(), (code, err.getvalue()[-2000:])
    return "typed"


def check_model_name(name: Any) -> str:
    """``build_model(name)``: a benchmark model, or a typed error naming the model."""
    from sciptm.benchmarks.models import build_model

    try:
        model = build_model(name, {})
    except SciptmError as err:
        assert repr(str(name).strip())[1:-1][:30] in str(err) or str(name)[:30] in str(err), \
            f"error does not name {name!r}: {err}"
        return "typed"
    assert callable(getattr(model, "fit_predict", None))
    return "valid"


@dataclass(frozen=True)
class Target:
    """One fuzzed entry point: a strategy of inputs and the check that accepts only the allowed outcomes."""

    name: str
    strategy: Callable[[], st.SearchStrategy[Any]]
    check: Callable[[Any], str]
    what: str


TARGETS: tuple[Target, ...] = (
    Target("smiles", smiles_inputs, check_smiles, "SMILES domain: Domain.prepare + tokenizer"),
    Target("protein", protein_inputs, check_protein, "protein domain: Domain.prepare + tokenizer"),
    Target("mutations", mutation_inputs, check_mutations, "protein mutation strings: apply_mutations"),
    Target("composition", composition_inputs, check_composition, "crystal domain, kind=composition"),
    Target("cif_text", cif_inputs, check_cif_text, "crystal domain, kind=structure, CIF text"),
    Target("csv", csv_inputs, check_csv, "CSV reader: sciptm.datasets.from_csv"),
    Target("fasta", fasta_inputs, check_fasta, "FASTA reader: read_fasta + protein domain"),
    Target("cif_file", cif_inputs, check_cif_file, "CIF reader: a .cif path to the crystal domain"),
    Target("yaml", yaml_inputs, check_yaml_file, "YAML configs: read_yaml_mapping"),
    Target("yaml_cli", yaml_inputs, check_yaml_cli, "YAML configs through the CLI: datasets info --config"),
    Target("model_name", model_name_inputs, check_model_name, "model-name specs: build_model"),
)

__all__ = ["TARGETS", "Target", "np"]
