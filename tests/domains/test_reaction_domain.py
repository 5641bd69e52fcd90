"""The reaction domain reads molecules with RDKit dative bonds (``->``) as molecules, not as reactions."""
import pytest

from sciptm.domains.reaction import ReactionDomain, split_reaction

#: row 2504 of MoleculeNet HIV (an iron-sulfur complex written with dative bonds), refused before the fix
HIV_DATIVE = ("C1C[N+]23CCC[N+]4(C1)CC[S-]1->[Fe+2]567[SH+]CC[N+]58CCC[N+]6(CCC8)CC[S-]7->[Fe+2]124[SH+]CC3")


def test_dative_bond_is_not_a_separator():
    assert ReactionDomain().to_text(HIV_DATIVE) == HIV_DATIVE
    assert ReactionDomain().to_text("CCN>>CC[NH2]->[Pt+2]") == "CCN>>CC[NH2]->[Pt+2]"
    assert "->" not in ReactionDomain(canonicalize=True).to_text("CCN>>CCN").split(">>")[0]


def test_separator_count_and_bad_molecule_still_refused():
    with pytest.raises(ValueError, match="0 or 2 '>' separators, found 1"):
        ReactionDomain().to_text("CC>CO")
    with pytest.raises(ValueError, match="products molecule 1"):
        ReactionDomain().to_text("CC>>C1CC")


def test_tokens_keep_the_arrow_of_a_dative_bond():
    toks = split_reaction("C[NH2]->[Pt+2]>>C")
    assert toks == ["C", "[NH2]", "-", ">", "[Pt+2]", ">>", "C"]
