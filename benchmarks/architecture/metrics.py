"""Architecture figures for issue #15, the same script for "before" and "after".

Usage::

    python benchmarks/architecture/metrics.py            # the working tree
    python benchmarks/architecture/metrics.py d3facd9    # a git revision (read through ``git archive``)

Prints (and with ``--json FILE`` writes):

- lines per top-level module of ``sciptm`` (a subpackage counts all its files);
- the 10 longest functions (AST span, docstring included);
- string branches on task type: comparisons (``==``, ``!=``, ``in``, ``not in``, ``match``) whose
  other side is a task-type literal (``"regression"``, ``"binary"``, ``"multiclass"``, ``"classification"``,
  ``"multitask-..."``) or a tuple/set/list of them, plus ``.startswith/endswith("multitask...")``;
- places that build a results-folder path: modules holding a ``"runs"`` / ``"splits"`` path join, a
  ``seed{..}.json`` f-string or the ``replace("/", "__")`` escape;
- places that parse benchmark model names: modules (outside ``domains/``, ``protein/``, ``zeroshot/``,
  where ``":"`` separates mutations, and ``encoders/``/``training/``, where it separates a device index)
  that split/strip/test a name on ``":probe"``, ``"@random"``, ``":"`` or ``"+"``.
"""
from __future__ import annotations

import argparse
import ast
import io
import json
import re
import subprocess
import sys
import tarfile
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TASK_WORDS = {"regression", "binary", "multiclass", "classification", "multitask", "multitask-regression",
              "multitask-binary", "multitask-classification"}
MODEL_TOKENS = {":probe", "@random", ":", "+", "@"}
#: folders where ":" and "+" mean something else (mutations "A23G:L40P", devices "cuda:0")
_NOT_MODEL_NAMES = ("sciptm/domains/", "sciptm/protein/", "sciptm/encoders/", "sciptm/training/", "sciptm/zeroshot/")
_MODELISH = re.compile(r"(^|[^a-z])(m|model|models|name|spec|base)\b|model")
STR_METHODS = {"split", "rsplit", "endswith", "startswith", "removesuffix", "removeprefix", "partition",
               "rpartition", "replace"}


def _tree(rev: str | None) -> Path:
    if rev is None:
        return ROOT
    tmp = Path(tempfile.mkdtemp(prefix="sciptm-metrics-"))
    data = subprocess.run(["git", "archive", rev, "sciptm"], cwd=ROOT, check=True, capture_output=True).stdout
    tarfile.open(fileobj=io.BytesIO(data)).extractall(tmp)
    return tmp


def _is_task_literal(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value in TASK_WORDS
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return bool(node.elts) and all(_is_task_literal(e) for e in node.elts)
    return False


def _task_branches(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            if any(_is_task_literal(x) for x in [node.left, *node.comparators]):
                lines.append(node.lineno)
        elif isinstance(node, ast.match_case):
            pat = node.pattern
            if isinstance(pat, ast.MatchValue) and _is_task_literal(pat.value):
                lines.append(pat.lineno)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr in {"startswith", "endswith"} and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
              and node.args[0].value.startswith("multitask")):
            lines.append(node.lineno)
    return lines


def _results_path_lines(src: str) -> list[int]:
    pat = re.compile(r'/ "runs"|/ "splits"|"runs" /|seed\{[^}]*\}\.json|_seed\{|replace\("/", "__"\)')
    return [i for i, line in enumerate(src.splitlines(), 1) if pat.search(line)]


def _model_parse_lines(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in STR_METHODS
                and node.args and isinstance(node.args[0], ast.Constant) and node.args[0].value in MODEL_TOKENS
                and not (node.func.attr == "replace" and node.args[0].value == "/")):
            # ":probe"/"@random" always name a model; a bare ":"/"+"/"@" only when split off a model-ish name
            # (not "column:fold" split methods, "low:0.01" grid edges or "cuda:0" devices)
            if node.args[0].value in {":probe", "@random"} or _MODELISH.search(ast.unparse(node.func.value)):
                lines.append(node.lineno)
        elif isinstance(node, ast.Compare) and any(isinstance(op, (ast.In, ast.NotIn)) for op in node.ops):
            if isinstance(node.left, ast.Constant) and node.left.value in {":probe", "@random", "+"}:
                lines.append(node.lineno)
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and node.value.value in {":probe", "@random"}:
            lines.append(node.lineno)
    return lines


def measure(base: Path) -> dict:
    pkg = base / "sciptm"
    per_top: Counter = Counter()
    funcs = []
    branches: dict[str, list[int]] = defaultdict(list)
    paths: dict[str, list[int]] = {}
    parsers: dict[str, list[int]] = {}
    for file in sorted(pkg.rglob("*.py")):
        rel = file.relative_to(base).as_posix()
        src = file.read_text()
        parts = file.relative_to(pkg).parts
        per_top[parts[0] if len(parts) > 1 else parts[0]] += len(src.splitlines())
        tree = ast.parse(src)
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                funcs.append((node.end_lineno - node.lineno + 1, f"{rel}:{node.lineno}", node.name))
        b = _task_branches(tree)
        if b:
            branches[rel] = sorted(b)
        p = _results_path_lines(src)
        if p:
            paths[rel] = p
        if not rel.startswith(_NOT_MODEL_NAMES) and "mutations" not in rel:
            m = _model_parse_lines(tree)
            if m:
                parsers[rel] = sorted(m)
    funcs.sort(reverse=True)
    return {
        "lines_per_top_level_module": dict(sorted(per_top.items(), key=lambda kv: -kv[1])),
        "total_lines": sum(per_top.values()),
        "longest_functions": [{"lines": n, "where": w, "name": name} for n, w, name in funcs[:10]],
        "task_type_string_branches": sum(len(v) for v in branches.values()),
        "task_type_string_branches_files": len(branches),
        "task_type_string_branches_by_file": dict(branches),
        "results_path_places": len(paths),
        "results_path_by_file": paths,
        "model_name_parse_places": len(parsers),
        "model_name_parse_by_file": parsers,
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("rev", nargs="?", help="git revision (default: the working tree)")
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args(argv)
    out = measure(_tree(args.rev))
    out["rev"] = args.rev or "working tree"
    print(f"== sciptm architecture metrics ({out['rev']})")
    print(f"total lines: {out['total_lines']}")
    print("lines per top-level module:")
    for k, v in out["lines_per_top_level_module"].items():
        print(f"  {v:6d}  {k}")
    print("10 longest functions (AST lines incl. docstring):")
    for f in out["longest_functions"]:
        print(f"  {f['lines']:4d}  {f['name']}  {f['where']}")
    print(f"string branches on task type: {out['task_type_string_branches']} in "
          f"{out['task_type_string_branches_files']} files")
    for k, v in out["task_type_string_branches_by_file"].items():
        print(f"  {len(v):3d}  {k}  {v}")
    print(f"modules that build the results path: {out['results_path_places']}")
    for k, v in out["results_path_by_file"].items():
        print(f"  {k}  {v}")
    print(f"modules that parse model names: {out['model_name_parse_places']}")
    for k, v in out["model_name_parse_by_file"].items():
        print(f"  {k}  {v}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
