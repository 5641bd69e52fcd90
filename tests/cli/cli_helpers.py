"""Run the ``sciptm`` command line in this process (shared by the CLI test modules)."""
from __future__ import annotations

from sciptm.cli.main import main


def cli(capsys, *args: object) -> tuple[int, str, str]:
    """Run ``sciptm ARGS`` in this process: (exit code, stdout, stderr)."""
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err
