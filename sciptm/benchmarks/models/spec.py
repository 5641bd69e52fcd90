"""Benchmark model names, parsed in one place.

A model name that is not a registered baseline names an encoder, in a small language::

    <base>[@random][+<features>][:probe]

``base``
    an encoder size (``tiny``, ``small``, ``base``: random init), a ``save_pretrained`` folder, a shipped
    name (``sciptm/smiles-small``) or a hub id (``org/name``).
``@random``
    keep that encoder's architecture and tokenizer, draw fresh seeded weights (the "does pretraining pay"
    control).
``+<features>``
    side features fed to the head beside the embedding (``tiny+rdkit2d``).
``:probe``
    frozen encoder embeddings + RidgeCV instead of fine-tuning.

>>> spec = ModelSpec.parse("sciptm/smiles-small@random:probe")
>>> spec.base, spec.random_init, spec.probe, spec.features
('sciptm/smiles-small', True, True, None)
>>> spec.encoder
'sciptm/smiles-small@random'
>>> ModelSpec.parse("tiny+rdkit2d")
ModelSpec(base='tiny', random_init=False, probe=False, features='rdkit2d')
>>> str(ModelSpec.parse("sciptm/smiles-small:probe").with_base("tiny"))
'tiny:probe'
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from sciptm.errors import ConfigError

PROBE_SUFFIX = ":probe"
RANDOM_SUFFIX = "@random"


def _sizes() -> tuple[str, ...]:
    from sciptm.encoders.architectures import SIZES  # deferred: the encoder stack is heavy

    return tuple(SIZES)


@dataclass(frozen=True)
class ModelSpec:
    """One parsed encoder model name (see the module docstring); ``str(spec)`` writes it back."""

    base: str
    random_init: bool = False
    probe: bool = False
    features: str | None = None

    @classmethod
    def parse(cls, name: str) -> ModelSpec:
        """Split ``name`` into its parts; raises :class:`~sciptm.errors.ConfigError` (a ``ValueError``) when a part
        is empty."""
        text = str(name).strip()
        probe = text.endswith(PROBE_SUFFIX)
        text = text.removesuffix(PROBE_SUFFIX)
        base, plus, features = text.partition("+")
        random_init = base.endswith(RANDOM_SUFFIX)
        base = base.removesuffix(RANDOM_SUFFIX)
        if not base or (plus and not features):
            raise ConfigError(f"cannot parse model name {name!r}: expected <encoder>[@random][+<features>][:probe], "
                             "e.g. 'tiny', 'sciptm/smiles-small:probe', 'tiny+rdkit2d'")
        return cls(base, random_init, probe, features or None)

    def __str__(self) -> str:
        return (self.encoder + (f"+{self.features}" if self.features else "")
                + (PROBE_SUFFIX if self.probe else ""))

    @property
    def encoder(self) -> str:
        """The encoder part, ``base`` plus ``@random`` when set (what a probe embeds with)."""
        return self.base + (RANDOM_SUFFIX if self.random_init else "")

    @property
    def is_size(self) -> bool:
        """True for a random-init encoder built from a size (``tiny``/``small``/``base``)."""
        return self.base in _sizes()

    @property
    def is_shipped(self) -> bool:
        """True for an encoder shipped with sciptm (``sciptm/...``)."""
        return self.base.startswith("sciptm/")

    def with_base(self, base: str) -> ModelSpec:
        """The same model on another encoder (a size drops ``@random``: it is random already)."""
        return replace(self, base=base, random_init=self.random_init and base not in _sizes())

    def fine_tuned(self) -> ModelSpec:
        """The same encoder and features, fine-tuned instead of probed (``:probe`` dropped)."""
        return replace(self, probe=False)

    def check(self) -> ModelSpec:
        """Raise :class:`~sciptm.errors.ConfigError` unless ``base`` can name an encoder (a size, a checkpoint
        folder, or a shipped/hub name ``org/name``), or :class:`~sciptm.errors.UnknownNameError` for a side-feature
        set no registry knows (the known ones are listed); returns ``self``."""
        if not (self.is_size or "/" in self.base or Path(self.base).exists()):
            raise ConfigError(f"unknown model {str(self)!r}: {self.base!r} is not a registered baseline, a size "
                              f"({', '.join(_sizes())}), a folder or a shipped/hub encoder name")
        if self.features:
            from sciptm.errors import UnknownNameError
            from sciptm.features import FEATURES

            for name in self.features.split("+"):
                if name and not name.startswith("deepchem:"):  # saved DeepChem featurizers resolve when used
                    try:
                        FEATURES.get(name)
                    except UnknownNameError as exc:  # it lists every known feature set
                        raise UnknownNameError(f"model {str(self)!r}: {exc}") from None
        return self


__all__ = ["PROBE_SUFFIX", "RANDOM_SUFFIX", "ModelSpec"]
