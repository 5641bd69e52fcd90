"""Dataset layer: cards, verified cache/mirror/download, loaders, splits, from_csv.

The download path is tested for real against an HTTP server on 127.0.0.1 that
serves the mirror (and corrupted / truncated copies from a temporary folder).
"""
from __future__ import annotations

import functools
import hashlib
import http.server
import json
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sciptm.datasets as sd
from sciptm.data.cards import CARDS, CARDS_DIR, parse_card
from sciptm.data.fetch import cache_path
from sciptm.data.integrity import sha256_file, sidecar_path
from sciptm.errors import DataIntegrityError, UnknownNameError

REPO = Path(__file__).resolve().parents[2]

CHEM_ROWS = {
    "esol": (1128, ["measured log solubility in mols per litre"]),
    "freesolv": (642, ["expt"]),
    "lipo": (4200, ["exp"]),
    "bbbp": (2050, ["p_np"]),
    "bace": (1513, ["Class"]),
    "clintox": (1484, ["FDA_APPROVED", "CT_TOX"]),
    "tox21": (7831, ["NR-AR", "NR-AR-LBD", "NR-AhR", "NR-Aromatase", "NR-ER", "NR-ER-LBD", "NR-PPAR-gamma",
                     "SR-ARE", "SR-ATAD5", "SR-HSE", "SR-MMP", "SR-p53"]),
    "sider": (1427, None),  # 27 organ-class columns
    "hiv": (41127, ["HIV_active"]),
}


# --------------------------------------------------------------------------- local HTTP server


class _Server:
    """A threaded static-file server on 127.0.0.1 (random port) that records requested paths."""

    def __init__(self, root: Path, handler_cls: type[http.server.SimpleHTTPRequestHandler] | None = None):
        requests: list[str] = []

        class Handler(handler_cls or http.server.SimpleHTTPRequestHandler):
            def log_message(self, fmt: str, *args: object) -> None:  # keep test output clean
                requests.append(self.path)

        self.requests = requests
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                     functools.partial(Handler, directory=str(root)))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def serve() -> Iterator:
    servers: list[_Server] = []

    def start(root: Path, handler_cls=None) -> _Server:
        server = _Server(root, handler_cls)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def _files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


# --------------------------------------------------------------------------- cards


def test_cards_dir_is_a_relative_symlink_to_datasets() -> None:
    link = REPO / "sciptm" / "data" / "cards"
    assert link.is_symlink()
    assert os.readlink(link) == "../../datasets"
    assert CARDS_DIR.resolve() == (REPO / "datasets").resolve()
    yaml_files = sorted(p.stem for p in (REPO / "datasets").glob("*/*.yaml"))
    assert yaml_files == CARDS.keys()


def test_required_cards_exist_with_registry_domains() -> None:
    wanted = ["esol", "freesolv", "lipo", "bbbp", "bace", "clintox", "tox21", "sider", "hiv",
              "flip_gb1_one_vs_rest", "flip_gb1_two_vs_rest", "flip_gb1_three_vs_rest", "flip_gb1_low_vs_high",
              "flip_gb1_sampled", "tape_stability", "tape_remote_homology", "tape_fluorescence_valid", "dms_gfp",
              "dms_grb2", "matbench_phonons", "matbench_expt_gap", "matbench_expt_is_metal", "matbench_steels",
              "matbench_glass", "matbench_jdft2d_formula", "matbench_dielectric_formula", "matbench_log_gvrh_formula",
              "matbench_log_kvrh_formula", "matbench_perovskites_formula", "mp_formation_energy", "matbench_jdft2d",
              "matbench_perovskites"]
    missing = [n for n in wanted if n not in CARDS]
    assert not missing
    folders = {"chem": "smiles", "protein": "protein", "materials": "crystal"}
    for name, card in CARDS.items():
        assert card.domain == folders[card.folder], name
        assert card.split.source and card.license and card.citation, name
    assert CARDS["matbench_steels"].input_kind == "composition"
    assert CARDS["matbench_phonons"].input_kind == "structure"


def test_card_tasks_and_metrics_are_registered_names() -> None:
    from sciptm.heads.tasks import TASKS
    from sciptm.metrics import METRICS

    for name, card in CARDS.items():
        if card.task == "unlabeled":
            assert card.metric is None and not card.targets, name
            continue
        assert card.task in TASKS and card.metric in METRICS, name
    assert len({CARDS["esol"], CARDS["hiv"]}) == 2  # cards are hashable


def test_every_card_file_in_the_mirror_matches_its_sha256(mirror: Path) -> None:
    checked: dict[Path, str] = {}
    for name, card in CARDS.items():
        for spec in card.files:
            path = mirror / card.folder / spec.file
            if not spec.in_mirror:
                assert not path.exists(), f"{name}: {spec.file} is in the mirror but the card says in_mirror: false"
                assert spec.url and spec.sha256, f"{name}: an off-mirror file needs a URL and a sha256"
                continue
            assert path.is_file(), f"{name}: {path} missing"
            if path not in checked:
                checked[path] = sha256_file(path)
            assert checked[path] in spec.accepted_sha256, f"{name}: {spec.file} sha256 {checked[path]}"
            if spec.size is not None:
                assert path.stat().st_size == spec.size, name
    assert len(checked) >= 39  # distinct mirror files named by the cards


def test_tox21_card_pins_the_mirror_bytes_and_accepts_the_s3_bytes() -> None:
    spec = CARDS["tox21"].files[0]
    assert spec.sha256 == "b0712b58280c1c87660d6abc23e199389372979a9d85f850cb27cdec6aa7c2af"
    assert spec.alt_sha256 == ("45d09792492ce049039dd24aa27b07fc79ce20c573187d4d90bcd178c0c0d360",)
    assert "gzipped again" in CARDS["tox21"].notes


def _minimal_card(**changes: object) -> dict:
    raw = {"name": "toy", "domain": "smiles", "description": "toy", "file": "toy.csv", "sha256": "a" * 64,
           "format": "csv", "input": "smiles", "targets": ["y"], "task": "regression", "metric": "rmse",
           "split": {"recommended": "random", "source": "none"}}
    raw.update(changes)
    return raw


@pytest.mark.parametrize("changes, message", [
    ({"colour": "red"}, "unknown card key"),
    ({"sha256": "ABC"}, "64 lower-case hex"),
    ({"task": "ranking"}, "'task' must be one of"),
    ({"domain": "chem"}, "'domain' must be one of"),
    ({"targets": ["a", "b"]}, "exactly one target"),
    ({"task": "multitask-binary"}, "two or more targets"),
    ({"split": {"recommended": "predefined", "source": "x"}}, "no split.predefined"),
    ({"files": [{"file": "a.csv", "format": "csv", "sha256": "a" * 64}]}, "not both"),
    ({"sha256": None}, "must say why"),
])
def test_card_schema_rejects_bad_cards(changes: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_card(_minimal_card(**changes))


def test_list_datasets_and_info() -> None:
    table = sd.list_datasets()
    assert list(table.columns) == ["name", "domain", "input_kind", "task", "metric", "n_rows", "split", "local"]
    assert len(table) == len(CARDS)
    smiles = sd.list_datasets("smiles")
    assert set(CHEM_ROWS) <= set(smiles["name"]) and (smiles["domain"] == "smiles").all()
    row = table.set_index("name").loc["hiv"]
    assert (row["task"], row["metric"], row["n_rows"]) == ("binary", "roc_auc", 41127)
    assert not table.set_index("name").loc["matbench_jdft2d", "local"]
    with pytest.raises(ValueError, match="domain must be one of"):
        sd.list_datasets("chem")
    card = sd.info("bbbp")
    assert card["invalid_rows"]["indices"][:2] == (59, 61)
    assert card["split"]["recommended"] == "scaffold" and "Wu et al." in card["split"]["source"]
    assert Path(card["path"]).name == "bbbp.yaml"
    with pytest.raises(UnknownNameError, match="known: "):
        sd.info("lipophilicity")


# --------------------------------------------------------------------------- chemistry loads


@pytest.mark.parametrize("name", list(CHEM_ROWS))
def test_chem_load_row_counts_and_targets(mirror: Path, name: str) -> None:
    ds = sd.load(name, progress=False)
    rows, targets = CHEM_ROWS[name]
    assert len(ds) == rows and len(ds.df) == rows
    assert isinstance(ds.inputs, pd.Series) and ds.inputs.name == ds.card.input
    assert ds.inputs.notna().all()  # blank lines (HIV) are skipped, not rows of NaN
    if targets is not None:
        assert list(ds.targets.columns) == targets
    assert ds.targets.shape == (rows, len(ds.card.targets))
    assert ds.targets.dtypes.eq("float64").all()
    assert ds.data_sha256 == sha256_file(mirror / "chem" / ds.card.files[0].file)
    assert ds.task == ds.card.task and ds.name == name
    for col in ds.card.exclude_features:
        assert col in ds.df.columns and col not in ds.card.targets


def test_chem_specific_pitfalls(mirror: Path) -> None:
    assert sd.load("bace", progress=False).card.input == "mol"
    assert sd.load("sider", progress=False).targets.shape == (1427, 27)
    tox = sd.load("tox21", progress=False).targets
    assert tox.isna().any().all()  # every task has missing labels, kept as NaN
    assert int(tox["SR-MMP"].notna().sum()) == 5810 and int(tox["NR-AR"].notna().sum()) == 7265
    hiv = sd.load("hiv", progress=False)
    assert set(hiv.targets["HIV_active"].unique()) == {0.0, 1.0}
    assert "activity" in hiv.card.exclude_features
    bace = sd.load("bace", progress=False)
    split = bace.predefined_split()
    assert {k: len(v) for k, v in split.items()} == {"train": 203, "valid": 45, "test": 1265}
    with pytest.raises(ValueError, match="no predefined split"):
        sd.load("esol", progress=False).predefined_split()


@pytest.mark.parametrize("name", ["bbbp", "clintox", "tox21"])
def test_invalid_rows_on_cards_are_exactly_the_rdkit_failures(mirror: Path, name: str) -> None:
    from rdkit import Chem, rdBase

    ds = sd.load(name, progress=False)
    with rdBase.BlockLogs():
        failing = [i for i, s in enumerate(ds.inputs) if Chem.MolFromSmiles(s) is None]
    assert tuple(failing) == ds.card.invalid_rows.indices


def test_hiv_listed_invalid_rows_fail_to_parse(mirror: Path) -> None:
    from rdkit import Chem, rdBase

    ds = sd.load("hiv", progress=False)
    with rdBase.BlockLogs():
        assert all(Chem.MolFromSmiles(ds.inputs.iloc[i]) is None for i in ds.card.invalid_rows.indices)
        assert Chem.MolFromSmiles(ds.inputs.iloc[0]) is not None


# --------------------------------------------------------------------------- download, cache, integrity


def test_download_from_local_server_then_cache_hit_without_server(mirror: Path, fresh_cache: Path, serve,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    server = serve(mirror)
    monkeypatch.setenv("SCIPTM_DATA_URL", server.url)
    ds = sd.load("freesolv", progress=False)
    gz = sd.load("clintox", progress=False)
    assert (len(ds), len(gz)) == (642, 1484)
    assert "/chem/SAMPL.csv" in server.requests and "/chem/clintox.csv.gz" in server.requests
    cached = fresh_cache / "datasets" / "chem" / "SAMPL.csv"
    assert cached == cache_path(CARDS["freesolv"], CARDS["freesolv"].files[0])
    assert sha256_file(cached) == ds.data_sha256 == CARDS["freesolv"].files[0].sha256
    assert json.loads(sidecar_path(cached).read_text())["sha256"] == ds.data_sha256
    assert not [p for p in _files_under(fresh_cache) if p.endswith(".part")]
    server.close()
    n_requests = len(server.requests)
    again = sd.load("freesolv", progress=False)  # the server is gone: this must come from the cache
    assert len(server.requests) == n_requests
    pd.testing.assert_frame_equal(again.df, ds.df)


def test_corrupted_download_is_refused_and_not_kept(mirror: Path, fresh_cache: Path, serve, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    bad_root = tmp_path / "bad"
    (bad_root / "chem").mkdir(parents=True)
    data = bytearray((mirror / "chem" / "SAMPL.csv").read_bytes())
    data[200] ^= 0x01  # one flipped bit, same length
    (bad_root / "chem" / "SAMPL.csv").write_bytes(bytes(data))
    actual = hashlib.sha256(bytes(data)).hexdigest()
    expected = CARDS["freesolv"].files[0].sha256
    server = serve(bad_root)
    monkeypatch.setenv("SCIPTM_DATA_URL", server.url)
    with pytest.raises(DataIntegrityError) as err:
        sd.load("freesolv", progress=False)
    message = str(err.value)
    assert "SAMPL.csv" in message and expected in message and actual in message
    assert server.requests == ["/chem/SAMPL.csv"]
    assert _files_under(fresh_cache) == []  # neither the file nor a partial download remains


class _TruncatingHandler(http.server.SimpleHTTPRequestHandler):
    """Announces the full length, sends half the bytes, then drops the connection."""

    def do_GET(self) -> None:
        path = Path(self.translate_path(self.path))
        body = path.read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2])
        self.wfile.flush()
        self.close_connection = True


def test_interrupted_download_leaves_no_partial_file(mirror: Path, fresh_cache: Path, serve,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    server = serve(mirror, _TruncatingHandler)
    monkeypatch.setenv("SCIPTM_DATA_URL", server.url)
    with pytest.raises(sd.DataUnavailableError, match="Lipophilicity.csv"):
        sd.load("lipo", progress=False)
    assert _files_under(fresh_cache) == []


def test_missing_url_and_offline_are_reported(fresh_cache: Path, serve, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    server = serve(tmp_path)  # serves an empty folder: 404
    monkeypatch.setenv("SCIPTM_DATA_URL", server.url)
    with pytest.raises(sd.DataUnavailableError, match="404"):
        sd.load("esol", progress=False)
    assert _files_under(fresh_cache) == []
    monkeypatch.delenv("SCIPTM_DATA_URL")
    monkeypatch.setenv("SCIPTM_OFFLINE", "1")
    with pytest.raises(sd.DataUnavailableError, match="ml.materialsproject.org/projects/matbench_jdft2d.json.gz"):
        sd.load("matbench_jdft2d", progress=False)
    monkeypatch.delenv("SCIPTM_OFFLINE")
    with pytest.raises(sd.DataUnavailableError, match="no download URL"):
        sd.load("dms_gfp", progress=False)  # converted file: mirror only


def test_corrupt_cached_file_is_detected_and_removed(mirror: Path, fresh_cache: Path) -> None:
    card = CARDS["esol"]
    cached = cache_path(card, card.files[0])
    cached.parent.mkdir(parents=True)
    shutil.copyfile(mirror / "chem" / "delaney-processed.csv", cached)
    assert len(sd.load("esol", progress=False)) == 1128  # a good cached copy is used (no mirror, no network)
    assert sidecar_path(cached).is_file()
    with cached.open("ab") as fh:
        fh.write(b"tampered\n")  # size changes, so the sidecar is not trusted
    with pytest.raises(DataIntegrityError, match=card.files[0].sha256):
        sd.load("esol", progress=False)
    assert not cached.exists() and not sidecar_path(cached).exists()


def test_corrupt_mirror_file_is_refused_and_left_alone(mirror: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "mirror" / "chem"
    fake.mkdir(parents=True)
    text = (mirror / "chem" / "delaney-processed.csv").read_text().replace("-0.77", "-0.78", 1)
    (fake / "delaney-processed.csv").write_text(text)
    monkeypatch.setenv("SCIPTM_DATA_MIRROR", str(tmp_path / "mirror"))
    monkeypatch.setenv("SCIPTM_CACHE", str(tmp_path / "cache"))
    with pytest.raises(DataIntegrityError, match="delaney-processed.csv"):
        sd.load("esol", progress=False)
    assert (fake / "delaney-processed.csv").is_file()


# --------------------------------------------------------------------------- user CSV


def test_from_csv_on_a_real_subset(mirror: Path, tmp_path: Path) -> None:
    esol = sd.load("esol", progress=False)
    sub = esol.df[["smiles", "measured log solubility in mols per litre"]].head(40)
    sub = sub.rename(columns={"measured log solubility in mols per litre": "logS"})
    path = tmp_path / "my_solubility.csv"
    text = sub.to_csv(index=False)
    path.write_text(text.replace("\n", "\n\n", 3))  # blank lines are skipped
    ds = sd.from_csv(path, input="smiles", targets=["logS"], task="regression", metric="rmse", domain="smiles")
    assert isinstance(ds, sd.Dataset) and ds.name == "my_solubility" and len(ds) == 40
    assert ds.data_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    np.testing.assert_allclose(ds.targets["logS"].to_numpy(), sub["logS"].to_numpy())
    assert ds.inputs.tolist() == sub["smiles"].tolist()
    with pytest.raises(ValueError, match=r"\['y'\] not found"):
        sd.from_csv(path, input="smiles", targets=["y"], task="regression")
    with pytest.raises(ValueError, match="task must be one of"):
        sd.from_csv(path, input="smiles", targets=["logS"], task="ordinal")


# --------------------------------------------------------------------------- proteins


def test_flip_gb1_predefined_split(mirror: Path) -> None:
    ds = sd.load("flip_gb1_one_vs_rest", progress=False)
    split = ds.predefined_split()
    assert {k: len(v) for k, v in split.items()} == {"train": 25, "valid": 3, "test": 8705}
    assert sorted(np.concatenate(list(split.values())).tolist()) == list(range(len(ds)))
    assert (ds.df.loc[split["valid"], "set"] == "train").all()
    assert ds.inputs.str.len().eq(265).all() and ds.metric == "spearman"
    low = sd.load("flip_gb1_low_vs_high", progress=False).predefined_split()
    assert {k: len(v) for k, v in low.items()} == {"train": 4580, "valid": 509, "test": 3644}


def test_tape_files_become_a_split_column(mirror: Path) -> None:
    ds = sd.load("tape_stability", progress=False)
    split = ds.predefined_split()
    assert {k: len(v) for k, v in split.items()} == {"train": 53614, "valid": 2512, "test": 12851}
    assert ds.df["split"].iloc[split["test"]].eq("test").all()
    assert set(ds.file_sha256) == {f.file for f in ds.card.files}
    assert ds.data_sha256 != next(iter(ds.file_sha256.values()))  # combined over the three files
    homology = sd.load("tape_remote_homology", progress=False)
    assert homology.task == "multiclass" and homology.targets["label"].dtype.kind == "i"
    assert homology.targets["label"].max() == 1194


def test_dms_and_corpus_loads(mirror: Path) -> None:
    from Bio.SeqUtils.ProtParam import ProteinAnalysis

    gfp = sd.load("dms_gfp", progress=False)
    assert len(gfp) == 51714 and gfp.inputs.str.len().eq(237).all()
    assert ProteinAnalysis(gfp.inputs.iloc[0]).molecular_weight() > 20000
    corpus = sd.load("uniprot_20k", progress=False)
    assert len(corpus) == 20000 and corpus.task == "unlabeled" and corpus.targets.shape == (20000, 0)
    assert corpus.df["id"].iloc[0] == "tr|W0FSK4|W0FSK4_9FLAV" and corpus.inputs.iloc[0].startswith("MNNQRKK")


# --------------------------------------------------------------------------- materials


def test_matbench_composition_task_and_official_folds(mirror: Path) -> None:
    from pymatgen.core import Composition
    from sklearn.model_selection import KFold

    ds = sd.load("matbench_steels", progress=False)
    assert list(ds.df.columns) == ["composition", "yield strength"] and len(ds) == 312
    assert Composition(ds.inputs.iloc[0]).get_atomic_fraction("Fe") == pytest.approx(0.62, abs=0.01)
    folds = ds.folds()
    assert [len(f["test"]) for f in folds] == [63, 63, 62, 62, 62]
    assert sorted(np.concatenate([f["test"] for f in folds]).tolist()) == list(range(312))
    for fold, (train, test) in zip(folds, KFold(5, shuffle=True, random_state=18012019).split(np.arange(312))):
        assert fold["test"].tolist() == sorted(test.tolist()) and fold["train"].tolist() == sorted(train.tolist())
    assert ds.predefined_split(fold=2)["test"].tolist() == folds[2]["test"].tolist()
    with pytest.raises(ValueError, match="pass fold=0..4"):
        ds.predefined_split()


def test_matbench_phonons_structures_match_formula_version(mirror: Path) -> None:
    from pymatgen.core import Structure

    ds = sd.load("matbench_phonons", progress=False)
    assert len(ds) == 1265 and isinstance(ds.inputs.iloc[0], dict)
    structures = ds.structures()
    assert all(isinstance(s, Structure) for s in structures[:5])
    assert [s.composition.reduced_formula for s in structures[:2]] == ["BaTe", "BAs"]
    formula = sd.load("matbench_phonons_formula", progress=False)
    np.testing.assert_array_equal(ds.targets.to_numpy(), formula.targets.to_numpy())
    assert [len(f["test"]) for f in ds.folds()] == [253] * 5


def test_mp_formation_energy_corpus_is_cached_as_json_lines(mirror: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from pymatgen.core import Structure

    monkeypatch.setenv("SCIPTM_CACHE", str(tmp_path / "cache"))
    ds = sd.load("mp_formation_energy", progress=False)
    assert len(ds) == 36737 and list(ds.df.columns) == ["index", "material_id", "cif", "formation_energy"]
    assert ds.df["material_id"].iloc[0] == "mp-1" and ds.df["material_id"].is_unique
    assert ds.df.loc[30571, "material_id"] == "mp-778012"
    assert ds.targets["formation_energy"].iloc[30571] == pytest.approx(-13.5686, abs=1e-4)
    derived = list((tmp_path / "cache" / "datasets" / "_derived").glob("cif-tar-*.jsonl"))
    assert len(derived) == 1
    start = time.perf_counter()
    again = sd.load("mp_formation_energy", progress=False)
    assert time.perf_counter() - start < 5.0
    assert again.df["cif"].iloc[123] == ds.df["cif"].iloc[123]
    assert isinstance(Structure.from_str(ds.inputs.iloc[0], fmt="cif"), Structure)
    assert len(ds.structures.__doc__) > 0
