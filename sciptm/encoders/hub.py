"""Names of the checkpoints shipped inside the package, and how names resolve to folders."""
from __future__ import annotations

from importlib import resources
import re
from pathlib import Path

#: short name -> folder under ``sciptm/checkpoints``; add a shipped encoder here.
SHIPPED: dict[str, str] = {
    "sciptm/smiles-small": "smiles-roberta-moses-4.8M",
    "sciptm/smiles-roberta-moses-4.8M": "smiles-roberta-moses-4.8M",
    "sciptm/protein-small": "protein-esm-uniref20k-0.8M",
    "sciptm/protein-esm-uniref20k-0.8M": "protein-esm-uniref20k-0.8M",
    "sciptm/crystal-small": "crystal-bert-mp37k-1.3M",
    "sciptm/crystal-bert-mp37k-1.3M": "crystal-bert-mp37k-1.3M",
}


def shipped_dir() -> Path:
    return Path(str(resources.files("sciptm"))) / "checkpoints"


def resolve_name(name_or_path: str | Path) -> str:
    """Shipped short names (``sciptm/smiles-small``) -> packaged folder; existing paths -> as is;
    anything else is passed to ``transformers`` as a hub id."""
    key = str(name_or_path)
    if key in SHIPPED:
        return str(shipped_dir() / SHIPPED[key])
    if key.startswith("sciptm/") and not Path(key).exists():
        known = ", ".join(sorted(SHIPPED)) or "(none shipped in this build)"
        raise FileNotFoundError(f"no shipped sciptm checkpoint {key!r}; shipped: {known}")
    path = Path(key).expanduser()
    hub_id = re.fullmatch(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?", key) is not None and not key.startswith((".", "~"))
    if not path.exists() and not hub_id:  # a local path (absolute, ./, ../, ~, or not a hub id) that is not there
        from sciptm.errors import MissingFileError

        raise MissingFileError(f"encoder folder not found: {key} (nor a shipped name or a Hugging Face hub id)")
    return key
