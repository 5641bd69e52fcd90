"""``python -m sciptm.pretraining --config CONFIG.yaml --out DIR [--resume] [--set key=value ...]``.

Any config key can be overridden with ``--set key=value`` (the value is read as YAML, so
``--set max_steps=500`` gives an int and ``--set val_source=null`` gives ``None``).
"""
from __future__ import annotations

import argparse
import shlex
import sys

from sciptm._util.values import read_value
from sciptm.pretraining.config import PretrainConfig
from sciptm.pretraining.loop import pretrain
from sciptm.progress import configure_logging


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sciptm.pretraining", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, help="YAML file of PretrainConfig fields")
    parser.add_argument("--out", required=True, help="run folder (checkpoints, metrics, exported encoder)")
    parser.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --out")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key")
    args = parser.parse_args(argv)
    overrides = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--set expects KEY=VALUE, got {item!r}")
        overrides[key.strip()] = read_value(value, key.strip())  # as `sciptm pretrain --set` reads it
    cfg = PretrainConfig.from_yaml(args.config, **overrides)
    used = sys.argv[1:] if argv is None else list(argv)
    command = "python -m sciptm.pretraining " + " ".join(shlex.quote(a) for a in used)
    configure_logging(0)  # the run's progress lines are sciptm INFO records
    result = pretrain(cfg, args.out, resume=args.resume, command=command)
    print(f"done: step {result.step}, tokens {result.tokens_seen}, encoder {result.encoder_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
