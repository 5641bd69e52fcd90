"""Reliability regressions through the command line (issue 13): one ``error:`` line and exit code 2 for user
errors, empty inputs give empty outputs, unknown or wrongly typed options are refused, a failing write leaves
nothing behind, and a real bug keeps its traceback with a line saying it is a bug."""
from __future__ import annotations

import errno
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sciptm.cli.main import main


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        main([str(a) for a in argv])
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out = capsys.readouterr()
    return code, out.out, out.err


def _one_error(code: int, err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, (code, err[-3000:])
    return lines[0]


@pytest.fixture(scope="module")
def encoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sciptm import Encoder

    path = tmp_path_factory.mktemp("enc") / "tiny"
    Encoder.from_config(domain="smiles", size="tiny", seed=0).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory, encoder_dir: Path) -> Path:
    from sciptm import Encoder, PropertyPredictor

    smiles = ["CCO", "CCN", "CCC", "c1ccccc1", "CC(=O)O", "CCCl", "OCCO", "CNC", "C=C", "CC#N"]
    model = PropertyPredictor(Encoder.from_pretrained(encoder_dir), task="regression", epochs=1, batch_size=5,
                              progress=False)
    model.fit(smiles, np.linspace(0, 1, len(smiles)))
    path = tmp_path_factory.mktemp("model") / "fitted"
    model.save_pretrained(path)
    return path


def test_reliability_missing_positional_argument_is_one_error_line(capsys) -> None:
    line = _one_error(*_run(["predict", "--model", "m"], capsys)[::2])
    assert line == "error: missing INPUTS: give it on the command line or as 'inputs' in --config"


def test_reliability_empty_config_file_is_one_error_line(tmp_path: Path, capsys) -> None:
    (tmp_path / "empty.yaml").write_text("")
    line = _one_error(*_run(["embed", "--config", tmp_path / "empty.yaml"], capsys)[::2])
    assert "missing INPUTS, --encoder" in line


def test_reliability_config_value_of_the_wrong_type(tmp_path: Path, capsys) -> None:
    (tmp_path / "in.csv").write_text("smiles\nCCO\n")
    (tmp_path / "c.yaml").write_text("batch_size: [1, 2]\n")
    line = _one_error(*_run(["embed", tmp_path / "in.csv", "--encoder", "tiny", "--config", tmp_path / "c.yaml"],
                            capsys)[::2])
    assert line.endswith("c.yaml: batch_size: expected int, got [1, 2]")


def test_reliability_model_options_that_are_not_a_mapping(tmp_path: Path, capsys) -> None:
    line = _one_error(*_run(["bench", "chem", "--tasks", "esol", "--models", "ecfp-rf", "--model-options",
                             "ecfp-rf: 5", "--out", tmp_path / "b"], capsys)[::2])
    assert "model_options: ecfp-rf: expected a mapping of options" in line and "got int 5" in line


def test_reliability_unknown_model_option_is_refused_listing_the_valid_keys(tmp_path: Path, capsys) -> None:
    out = tmp_path / "b"
    line = _one_error(*_run(["bench", "chem", "--tasks", "esol", "--models", "ecfp-rf", "--model-options",
                             "{ecfp-rf: {bogus: 1}}", "--out", out], capsys)[::2])
    assert line == "error: model_options: ecfp-rf: unknown option(s) bogus; valid: n_estimators, n_jobs"
    assert not (out / "runs").exists()  # refused before anything ran (nothing recorded as if applied)


def test_reliability_unknown_model_option_is_refused_by_the_library(tmp_path: Path) -> None:
    from sciptm.benchmarks import run
    from sciptm.errors import ConfigError

    with pytest.raises(ConfigError, match=r"tiny: unknown option\(s\) epoch; valid: .*epochs"):
        run("chem", tasks=["esol"], models=["tiny"], model_options={"tiny": {"epoch": 3}}, out=tmp_path / "r",
            progress=False, report=False)


def test_reliability_batch_size_zero_is_one_clear_line(tmp_path: Path, capsys) -> None:
    (tmp_path / "in.csv").write_text("smiles\nCCO\n")
    line = _one_error(*_run(["embed", tmp_path / "in.csv", "--encoder", "tiny", "--batch-size", "0"], capsys)[::2])
    assert line == "error: --batch-size must be at least 1, not 0"


def test_reliability_header_only_csv_embeds_to_0_by_d(tmp_path: Path, encoder_dir: Path, capsys) -> None:
    (tmp_path / "in.csv").write_text("smiles\n")
    code, out, err = _run(["embed", tmp_path / "in.csv", "--encoder", encoder_dir, "--out", tmp_path / "e.npy"], capsys)
    assert code == 0, err
    X = np.load(tmp_path / "e.npy")
    assert X.shape[0] == 0 and X.shape[1] > 0


def test_reliability_every_row_invalid_with_skip_gives_nan_rows(tmp_path: Path, encoder_dir: Path, capsys) -> None:
    (tmp_path / "in.csv").write_text("smiles\nC1CC\nnot a molecule\n")
    code, out, err = _run(["embed", tmp_path / "in.csv", "--encoder", encoder_dir, "--errors", "skip", "--out",
                           tmp_path / "e.npy"], capsys)
    assert code == 0, err
    X = np.load(tmp_path / "e.npy")
    assert X.shape[0] == 2 and np.isnan(X).all()


def test_reliability_predict_on_a_header_only_csv_writes_the_header(tmp_path: Path, model_dir: Path, capsys) -> None:
    (tmp_path / "in.csv").write_text("smiles\n")
    code, out, err = _run(["predict", tmp_path / "in.csv", "--model", model_dir, "--out", tmp_path / "p.csv"], capsys)
    assert code == 0, err
    frame = pd.read_csv(tmp_path / "p.csv")
    assert len(frame) == 0 and list(frame.columns)[0] == "smiles" and len(frame.columns) >= 2


def test_reliability_full_disk_while_predicting_leaves_nothing(tmp_path: Path, model_dir: Path, capsys,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "in.csv").write_text("smiles\nCCO\nCCN\n")
    out_dir = tmp_path / "out"
    real = pd.DataFrame.to_csv

    def full(self, path, *args, **kwargs):  # writes a little, then the disk is full
        real(self.head(0), path, *args, **kwargs)
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(pd.DataFrame, "to_csv", full)
    line = _one_error(*_run(["predict", tmp_path / "in.csv", "--model", model_dir, "--out", out_dir / "p.csv"],
                            capsys)[::2])
    assert line.startswith("error: No space left on device: ")
    left = sorted(p.name for p in out_dir.iterdir())
    assert not [n for n in left if ".tmp" in n or n == "p.csv"], left


def test_reliability_models_dotdot_names_the_folder(tmp_path: Path, capsys) -> None:
    code, out, err = _run(["bench", "chem", "--tasks", "esol", "--models", "..", "--out", tmp_path / "b",
                           "--no-report"], capsys)
    line = _one_error(code, err)
    assert "'..'" in line and "is not an encoder checkpoint" in line and "'mean'" not in line


def test_reliability_when_every_run_fails_the_error_is_the_real_one(tmp_path: Path, capsys) -> None:
    code, out, err = _run(["bench", "chem", "--tasks", "esol", "--models", "sciptm/protein-small", "--out",
                           tmp_path / "b", "--no-report"], capsys)
    line = _one_error(code, err)
    assert "every run failed (1): esol / sciptm/protein-small seed 0" in line and "protein encoder" in line
    assert "'mean'" not in line


def test_reliability_results_json_is_strict_json_with_null_for_nan(tmp_path: Path) -> None:
    """A mean predictor has no Spearman correlation (NaN): results.json must still be strict JSON."""
    from sciptm.benchmarks import run

    csv = tmp_path / "t.csv"
    rng = np.random.default_rng(0)
    smiles = ["C" * k + "O" for k in range(1, 41)]
    pd.DataFrame({"smiles": smiles, "y": rng.normal(size=40)}).to_csv(csv, index=False)
    run("chem", tasks=[str(csv)], models=["mean"], split="random", input="smiles", targets=["y"],
        task_type="regression", out=tmp_path / "r", progress=False, report=False)

    def no_constants(name: str) -> float:
        raise AssertionError(f"bare {name} in strict JSON")

    files = [tmp_path / "r" / "results.json", *(tmp_path / "r" / "runs").rglob("*.json")]
    for path in files:
        json.loads(path.read_text(), parse_constant=no_constants)
    row = json.loads(next((tmp_path / "r" / "runs").rglob("*.json")).read_text())
    nulls = [k for k, v in row["metrics"].items() if v is None]
    assert nulls, row["metrics"]  # the undefined metric is recorded as null
    assert all(v is None or math.isfinite(v) for v in row["metrics"].values())


def test_reliability_only_sciptm_errors_are_one_line_bugs_keep_a_traceback(capsys, monkeypatch) -> None:
    import sciptm.datasets as sd
    from sciptm.errors import ConfigError

    def typed(domain=None):
        raise ConfigError("a user error")

    monkeypatch.setattr(sd, "list_datasets", typed)
    assert _one_error(*_run(["datasets", "list"], capsys)[::2]) == "error: a user error"

    def bug(domain=None):
        return {}["mean"]  # an implicit KeyError: a bug, never a one-line "error: 'mean'"

    monkeypatch.setattr(sd, "list_datasets", bug)
    code, out, err = _run(["datasets", "list"], capsys)
    assert code == 1 and "Traceback" in err and "KeyError: 'mean'" in err
    assert "this is a bug" in err.splitlines()[-1] and not [x for x in err.splitlines() if x.startswith("error:")]

    def library_value_error(domain=None):
        return int("abc")  # a ValueError raised by Python, not a sciptm message

    monkeypatch.setattr(sd, "list_datasets", library_value_error)
    code, out, err = _run(["datasets", "list"], capsys)
    assert code == 1 and "invalid literal for int()" in err and "this is a bug" in err


def test_reliability_environment_errors_are_one_line(tmp_path: Path, capsys, monkeypatch) -> None:
    import sciptm.datasets as sd

    def read_only(domain=None):
        raise PermissionError(errno.EROFS, "Read-only file system", "/data/x")

    monkeypatch.setattr(sd, "list_datasets", read_only)
    assert _one_error(*_run(["datasets", "list"], capsys)[::2]) == "error: Read-only file system: /data/x"


def test_reliability_two_commands_in_one_out_print_their_own_summary(tmp_path: Path, capsys) -> None:
    out = tmp_path / "shared"
    code, first, err = _run(["bench", "chem", "--tasks", "esol", "--models", "mean", "--out", out, "--no-report"],
                            capsys)
    assert code == 0, err
    code, second, err = _run(["bench", "chem", "--tasks", "esol", "--models", "dummy", "--out", out, "--no-report"],
                             capsys)
    assert code == 0, err
    header = lambda text: next(line for line in text.splitlines() if "metric" in line).split()  # noqa: E731
    assert "mean" in header(first) and "dummy" not in header(first)
    assert "dummy" in header(second) and "mean" not in header(second)  # not the other command's model
    assert {r["model"] for r in json.loads((out / "results.json").read_text())["rows"]} == {"mean", "dummy"}


def test_reliability_only_explicit_raises_in_sciptm_count_as_user_errors() -> None:
    """The transitional rule for builtins: ``raise ValueError("message")`` written in sciptm's own code is a user
    error; a KeyError from a lookup, a re-raised library error or anything raised outside sciptm is a bug."""
    import sciptm
    from sciptm.cli.main import _is_user_error

    fake = str(Path(sciptm.__file__).parent / "_reliability_probe.py")  # never written: only the code's file name
    space: dict = {}
    exec(compile("def explicit():\n    raise ValueError('a written message')\n"
                 "def lookup():\n    return {}['mean']\n"
                 "def reraise():\n    try:\n        int('abc')\n    except ValueError:\n        raise\n", fake, "exec"), space)

    def outcome(name: str) -> bool:
        try:
            space[name]()
        except Exception as exc:  # noqa: BLE001
            return _is_user_error(exc)
        raise AssertionError(f"{name} did not raise")

    assert outcome("explicit") is True
    assert outcome("lookup") is False
    assert outcome("reraise") is False
