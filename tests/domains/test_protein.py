"""Protein domain: alphabet policy, ESM-2-identical tokenizer, FASTA/PDB/mmCIF input, ESM encoders,
long-sequence chunking, mutation strings on real DMS files, zero-shot variant scoring."""
from __future__ import annotations

import gzip
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from Bio import SeqIO
from Bio.Seq import Seq
from Bio.SeqRecord import SeqRecord
from transformers import AutoModel, AutoTokenizer, EsmForMaskedLM, EsmTokenizer

import sciptm
from sciptm.domains import get_domain
from sciptm.domains.protein import ESM_VOCAB, ProteinDomain, build_tokenizer, clean_sequence
from sciptm.errors import InvalidInputError, SkippedInputWarning
from sciptm.domains.protein.io import read_fasta, read_structure_sequences
from sciptm.domains.protein.mutations import apply_mutations, infer_wild_type, parse_mutations
from sciptm.zeroshot import score_mutations

GB1_DOMAIN = "MQYKLILNGKTLKGETTTEAVDAATAEKVFKQYANDNGVDGEWTYDDATKTFTVTE"
# ids printed for this sequence by EsmTokenizer (shared/models/MANIFEST.md)
GB1_IDS = [0, 20, 16, 19, 15, 4, 12, 4, 17, 6, 15, 11, 4, 15, 6, 9, 11, 11, 11, 9, 5, 7, 13, 5, 5, 11, 5, 9, 15,
           7, 18, 15, 16, 19, 5, 17, 13, 17, 6, 7, 13, 6, 9, 22, 11, 19, 13, 13, 5, 11, 15, 11, 18, 11, 7, 11, 9, 2]
GRB2_OFFSET = 158  # the METL file holds GRB2 residues 159-214 (ProteinGym numbering)
TINY = {"layers": 2, "hidden": 64, "heads": 4, "ffn": 128}


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """One intra-op thread while this module runs: on a busy 2-core machine, 2 threads made the
    100-step training test ~40x slower (136 s vs 3 s) through oversubscription."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def protein_dir(mirror: Path) -> Path:
    path = mirror / "protein"
    if not path.is_dir():
        pytest.skip(f"no protein folder in the data mirror {mirror}")
    return path


@pytest.fixture(scope="session")
def esm2_dir(mirror: Path) -> Path:
    path = mirror.parent / "models" / "config-and-tokenizer-only" / "esm2_t6_8M_UR50D"
    if not path.is_dir():
        pytest.skip(f"ESM-2 tokenizer/config folder not found at {path}")
    return path


@pytest.fixture(scope="session")
def grb2(protein_dir: Path) -> pd.DataFrame:
    return pd.read_csv(protein_dir / "dms" / "GRB2_HUMAN_Faure_2021.csv.gz")


@pytest.fixture(scope="session")
def grb2_wt(grb2: pd.DataFrame) -> str:
    return infer_wild_type(grb2["mutant"], grb2["mutated_sequence"], offset=GRB2_OFFSET)


@pytest.fixture(scope="module")
def tiny_enc() -> sciptm.Encoder:
    return sciptm.Encoder.from_config(domain="protein", size=TINY, seed=0)


# ---------------------------------------------------------------- alphabet and domain
def test_clean_sequence_alphabet_policy() -> None:
    assert clean_sequence(" mqyk\nlilng* ") == "MQYKLILNG"
    assert clean_sequence("MXBZUO") == "MXBZUO"
    assert clean_sequence("MXBZUO", nonstandard="map") == "MXDECK"
    with pytest.raises(ValueError, match=r"non-standard residue.*'U' at position 3"):
        clean_sequence("MKU", nonstandard="reject")
    with pytest.raises(ValueError, match=r"invalid residue 'J' at position 4"):
        clean_sequence("MKTJA")
    with pytest.raises(ValueError, match=r"'-' at position 3, '1' at position 5"):
        clean_sequence("MK-A1")
    with pytest.raises(ValueError, match="empty sequence"):
        clean_sequence("  *")
    with pytest.raises(ValueError, match="nonstandard must be"):
        ProteinDomain(nonstandard="drop")


def test_domain_accepts_str_seq_seqrecord_and_names_records() -> None:
    dom = get_domain({"name": "protein", "nonstandard": "map"})
    assert dom.to_config() == {"name": "protein", "nonstandard": "map"}
    assert dom.to_text(Seq("mkub")) == "MKCD"
    assert dom.to_text(SeqRecord(Seq("MKT"), id="sp|P1|A")) == "MKT"
    # one Seq is one item, not a list of letters
    assert dom.prepare(Seq("MKTA")).texts == ["MKTA"]
    items = ["MKTA", SeqRecord(Seq("MK7A"), id="sp|Q99|BAD"), None, 42, "MKTAYIAK"]
    with pytest.raises(InvalidInputError) as err:
        dom.prepare(items)
    records = err.value.records
    assert [r.index for r in records] == [1, 2, 3]
    assert "record 'sp|Q99|BAD'" in records[0].reason and "'7' at position 3" in records[0].reason
    assert "missing sequence" in records[1].reason
    with pytest.warns(SkippedInputWarning, match="skipped 3 of 5"):
        prepared = dom.prepare(pd.Series(items, index=list("abcde")), errors="skip")
    assert prepared.texts == ["MKTA", "MKTAYIAK"] and prepared.valid.tolist() == [1, 0, 0, 0, 1]
    assert [r.index for r in prepared.invalid] == ["b", "c", "d"]


# ---------------------------------------------------------------- tokenizer
def test_tokenizer_golden_ids_and_vocabulary() -> None:
    tok = build_tokenizer()
    assert tok(GB1_DOMAIN)["input_ids"] == GB1_IDS
    assert tok.convert_ids_to_tokens(list(range(33))) == list(ESM_VOCAB)
    assert (len(tok), tok.mask_token_id, tok.pad_token_id, tok.cls_token_id, tok.eos_token_id) == (33, 32, 1, 0, 2)
    batch = tok(["MK", "MKTA"], padding=True)
    assert batch["input_ids"][0] == [0, 20, 15, 2, 1, 1] and batch["attention_mask"][0] == [1, 1, 1, 1, 0, 0]
    assert tok("MK<mask>A")["input_ids"] == [0, 20, 15, 32, 5, 2]


def test_tokenizer_matches_esm_tokenizer_on_whole_dataset(protein_dir: Path, esm2_dir: Path) -> None:
    """Must-show: every sequence of TAPE stability test (12,851) gets EsmTokenizer's exact ids, and so do
    corpus sequences holding the non-standard letters X, B and Z."""
    esm = EsmTokenizer.from_pretrained(esm2_dir)
    ours = ProteinDomain().build_tokenizer()
    seqs = pd.read_csv(protein_dir / "tape_stability" / "stability.test.csv.gz")["seq"].tolist()
    assert len(seqs) == 12851
    t0 = time.perf_counter()
    mine = ours(seqs)["input_ids"]
    t1 = time.perf_counter()
    ref = esm(seqs)["input_ids"]
    print(f"\n12,851 sequences: sciptm {t1 - t0:.2f} s, EsmTokenizer {time.perf_counter() - t1:.2f} s")
    differ = [i for i, (a, b) in enumerate(zip(mine, ref)) if a != b]
    assert not differ, f"{len(differ)} sequences differ, first row {differ[:1]}"

    corpus = read_fasta(protein_dir / "pretrain_corpus" / "uniprot_20k_mmseqs2_example_DB.fasta.gz")
    odd = corpus["sequence"][corpus["sequence"].str.contains("[XBZ]")].head(60).tolist()
    assert any("B" in s for s in odd) and any("X" in s for s in odd)
    ours.model_max_length = esm.model_max_length  # whole sequences, as EsmTokenizer does
    assert ours(odd)["input_ids"] == esm(odd)["input_ids"]


def test_tokenizer_saves_and_loads_with_autotokenizer(tmp_path: Path) -> None:
    ProteinDomain().build_tokenizer().save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    assert loaded(GB1_DOMAIN)["input_ids"] == GB1_IDS
    assert (len(loaded), loaded.mask_token_id, loaded.model_max_length) == (33, 32, 1024)


# ---------------------------------------------------------------- files
def test_read_fasta_real_corpus_and_round_trip(protein_dir: Path, tmp_path: Path) -> None:
    corpus = read_fasta(protein_dir / "pretrain_corpus" / "uniprot_20k_mmseqs2_example_DB.fasta.gz")
    assert list(corpus.columns) == ["id", "description", "sequence"] and len(corpus) == 20000
    assert corpus.loc[0, "id"] == "tr|W0FSK4|W0FSK4_9FLAV"
    assert corpus.loc[0, "description"].startswith("tr|W0FSK4|W0FSK4_9FLAV Genome polyprotein")
    assert corpus["sequence"].str.len().sum() == 9_055_569  # residue count of the MANIFEST
    records = [SeqRecord(Seq(s.lower()), id=i, description="") for i, s in zip(corpus["id"][:5], corpus["sequence"][:5])]
    plain, packed = tmp_path / "five.fasta", tmp_path / "five.fa.gz"
    SeqIO.write(records, plain, "fasta")
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    for path in (plain, packed):
        back = read_fasta(path)
        assert back["id"].tolist() == corpus["id"][:5].tolist()
        assert ProteinDomain().prepare(back["sequence"]).texts == corpus["sequence"][:5].tolist()
    bad = tmp_path / "notes.txt"
    bad.write_text("just some notes\nnot a fasta file\n")
    with pytest.raises(ValueError, match="not a FASTA file"):
        read_fasta(bad)


def _peptide(sequence: str, chain_id: str):
    """A peptide with ideal geometry built by Biopython from internal coordinates."""
    from Bio.PDB.PICIO import read_PIC_seq

    structure = read_PIC_seq(SeqRecord(Seq(sequence), id=f"pep{chain_id}", description=""))
    structure.internal_to_atom_coordinates()
    chain = structure[0]["A"]
    chain.id = chain_id
    return structure, chain


def test_read_structure_sequences_pdb_and_mmcif(tmp_path: Path, grb2_wt: str, tiny_enc) -> None:
    from Bio.PDB import MMCIFIO, PDBIO

    seq_a, seq_b = "M" + grb2_wt[:13], grb2_wt[20:31]
    structure, _ = _peptide(seq_a, "A")
    _, chain_b = _peptide(seq_b, "B")
    chain_b.detach_parent()
    structure[0].add(chain_b)
    io = PDBIO()
    io.set_structure(structure)
    pdb = tmp_path / "two_chains.pdb"
    io.save(str(pdb))
    # make residue 1 of chain A a selenomethionine record and add a water chain, as real PDB files have
    lines = pdb.read_text().splitlines()
    lines = [("HETATM" + ln[6:17] + "MSE" + ln[20:]) if ln.startswith("ATOM") and ln[21] == "A" and ln[22:26] == "   1"
             else ln for ln in lines]
    water = "HETATM 9999  O   HOH W   1      10.000  10.000  10.000  1.00  0.00           O  "
    end = next(i for i, ln in enumerate(lines) if ln.startswith("END"))
    pdb.write_text("\n".join(lines[:end] + [water] + lines[end:]) + "\n")
    frame = read_structure_sequences(pdb)
    assert list(frame.columns) == ["chain", "sequence"]
    assert frame.values.tolist() == [["A", seq_a], ["B", seq_b]]

    cif = tmp_path / "two_chains.cif"
    cio = MMCIFIO()
    cio.set_structure(structure)
    cio.save(str(cif))
    packed = tmp_path / "model.cif.gz"
    packed.write_bytes(gzip.compress(cif.read_bytes()))
    assert read_structure_sequences(packed)["sequence"].tolist() == [seq_a, seq_b]
    assert tiny_enc.embed(frame["sequence"]).shape == (2, 64)
    with pytest.raises(ValueError, match="cannot tell the structure format"):
        read_structure_sequences(tmp_path / "model.xyz")


# ---------------------------------------------------------------- mutations on real DMS files
def test_mutation_strings_parse_and_errors() -> None:
    assert [str(m) for m in parse_mutations("A23G:L40P")] == ["A23G", "L40P"]
    assert parse_mutations("WT") == [] and parse_mutations("") == []
    assert apply_mutations("MKTAYIAK", "K2R:A4G") == "MRTGYIAK"
    assert apply_mutations("MKTAYIAK", "K12R", offset=10) == "MRTAYIAK"
    with pytest.raises(ValueError, match=r"mutation T2A: expected wild-type residue 'T' at position 2, found 'K'"):
        apply_mutations("MKTAYIAK", "T2A")
    with pytest.raises(ValueError, match=r"K20R: position 20 is outside the wild type \(positions 1-8\)"):
        apply_mutations("MKTAYIAK", "K20R")
    with pytest.raises(ValueError, match="cannot parse mutation '2A'"):
        parse_mutations("K2R:2A")
    with pytest.raises(ValueError, match="position 2 is mutated twice"):
        parse_mutations("K2R:K2A")
    with pytest.raises(InvalidInputError) as err:
        apply_mutations("MKTAYIAK", pd.Series(["K2R", "A2G", "Y5W"], index=[10, 11, 12]))
    assert [r.index for r in err.value.records] == [11] and "found 'K'" in err.value.records[0].reason


@pytest.mark.parametrize(("name", "offset", "n_rows"),
                         [("GRB2_HUMAN_Faure_2021", GRB2_OFFSET, 63366), ("GFP_AEQVI_Sarkisyan_2016", 1, 51714)])
def test_dms_mutants_reproduce_mutated_sequences(protein_dir: Path, name: str, offset: int, n_rows: int) -> None:
    dms = pd.read_csv(protein_dir / "dms" / f"{name}.csv.gz")
    assert len(dms) == n_rows
    wt = infer_wild_type(dms["mutant"], dms["mutated_sequence"], offset=offset)
    assert apply_mutations(wt, dms["mutant"], offset=offset) == dms["mutated_sequence"].tolist()
    assert [len(parse_mutations(m)) for m in dms["mutant"][:2000]] == dms["num_mutations"][:2000].tolist()
    # one position off: the wild-type check names the mutation, position and both residues
    first = parse_mutations(dms["mutant"].iloc[0])[0]
    found = wt[first.position - offset]
    assert found != first.wt
    with pytest.raises(ValueError, match=rf"mutation {first}: expected wild-type residue '{first.wt}' at position "
                                         rf"{first.position}, found '{found}'"):
        apply_mutations(wt, str(first), offset=offset - 1)


# ---------------------------------------------------------------- encoders
@pytest.mark.parametrize("size", ["tiny", "small"])
def test_protein_encoder_is_stock_esm(size: str, tmp_path: Path) -> None:
    enc = sciptm.Encoder.from_config(domain="protein", size=size, seed=0)
    assert isinstance(enc.lm_model, EsmForMaskedLM)
    c = enc.model.config
    assert (c.vocab_size, c.mask_token_id, c.pad_token_id) == (33, 32, 1)
    assert c.position_embedding_type == "rotary" and c.token_dropout is True
    x = enc.embed([GB1_DOMAIN, "MKTAYIAK", Seq("MKTW")])
    assert x.shape == (3, enc.hidden_size) and np.isfinite(x).all()
    if size == "tiny":
        enc.save_pretrained(tmp_path)
        back = sciptm.Encoder.from_pretrained(tmp_path)
        assert back.domain.name == "protein"
        np.testing.assert_allclose(back.embed([GB1_DOMAIN, "MKTAYIAK"]), x[:2], rtol=1e-5, atol=1e-5)
        hf = AutoModel.from_pretrained(tmp_path).eval()
        ids = AutoTokenizer.from_pretrained(tmp_path)([GB1_DOMAIN], return_tensors="pt")
        with torch.no_grad():
            ref = hf(**ids).last_hidden_state.mean(1)
        np.testing.assert_allclose(ref.numpy()[0], x[0], rtol=1e-4, atol=1e-5)


def test_from_pretrained_opens_esm2_checkpoint_folder(esm2_dir: Path, tmp_path: Path) -> None:
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(esm2_dir)
    torch.manual_seed(0)
    model = EsmForMaskedLM(config).eval()  # ESM-2 8M architecture, random weights (no weights in the mirror)
    model.save_pretrained(tmp_path)
    EsmTokenizer.from_pretrained(esm2_dir).save_pretrained(tmp_path)
    enc = sciptm.Encoder.from_pretrained(tmp_path)
    assert enc.domain.name == "protein" and enc.hidden_size == 320 and enc.lm_model is not None
    out = enc.encode(["mqyk lilng", GB1_DOMAIN])
    assert tuple(out.last_hidden_state.shape) == (2, len(GB1_DOMAIN) + 2, 320)
    ids = torch.tensor([GB1_IDS])
    with torch.no_grad():
        ref = model.esm(input_ids=ids, attention_mask=torch.ones_like(ids)).last_hidden_state
    torch.testing.assert_close(out.last_hidden_state[1], ref[0], rtol=1e-4, atol=1e-5)


def test_embed_long_sequences_truncate_warns_chunk_reads_all(tiny_enc) -> None:
    long_seq = GB1_DOMAIN  # 56 residues; a 24-token limit gives 22-residue windows overlapping by half
    tiny_enc.tokenizer.model_max_length = 24
    try:
        with pytest.warns(UserWarning, match="truncated 1 inputs longer than 24 tokens"):
            cut = tiny_enc.embed([long_seq, "MKTA"])
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)
            whole = tiny_enc.embed([long_seq, "MKTA"], long="chunk")
    finally:
        tiny_enc.tokenizer.model_max_length = 1024
    np.testing.assert_allclose(whole[1], cut[1], rtol=1e-5, atol=1e-6)
    assert not np.allclose(whole[0], cut[0])
    windows = [long_seq[s:s + 22] for s in (0, 11, 22, 33, 34)]  # the last one ends at the last residue
    expected = np.mean([tiny_enc.embed([w])[0] for w in windows], axis=0)
    np.testing.assert_allclose(whole[0], expected, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="long must be"):
        tiny_enc.embed(["MKTA"], long="drop")


# ---------------------------------------------------------------- zero-shot scoring
def _naive_score(enc, wt: str, mutant: str, method: str, offset: int = 0, window: int | None = None) -> float:
    """Reference: one forward pass per site, built from strings through the tokenizer."""
    lm = enc.lm_model.eval()
    total = 0.0
    for m in parse_mutations(mutant):
        i = m.position - offset - 1
        width = window or len(wt)
        if method == "masked-marginal":
            start = min(max(i - width // 2, 0), len(wt) - width)
        else:  # tiles overlapping by half; the tile whose centre is nearest the site
            starts = sorted(set(range(0, len(wt) - width + 1, max(width // 2, 1))) | {len(wt) - width})
            start = min(starts, key=lambda s: (abs(i - (s + width / 2)), s))
        text = wt[start:start + width]
        j = i - start
        if method == "masked-marginal":
            text = text[:j] + "<mask>" + text[j + 1:]
        with torch.no_grad():
            logits = lm(**enc.tokenizer(text, return_tensors="pt")).logits[0, j + 1]
        lp = torch.log_softmax(logits, -1)
        ids = enc.tokenizer.convert_tokens_to_ids([m.mut, m.wt])
        total += float(lp[ids[0]] - lp[ids[1]])
    return total


@pytest.mark.parametrize("method", ["masked-marginal", "wt-marginal"])
def test_scores_equal_naive_per_variant_computation(tiny_enc, grb2, grb2_wt, method: str) -> None:
    picked = grb2.groupby("num_mutations").head(2).head(6)["mutant"]
    mutants = pd.concat([picked, pd.Series(["WT"], index=[-1])])
    got = score_mutations(tiny_enc, grb2_wt, mutants, method=method, offset=GRB2_OFFSET, batch_size=3)
    assert got.index.tolist() == mutants.index.tolist() and got["mutant"].tolist() == mutants.tolist()
    expected = [_naive_score(tiny_enc, grb2_wt, m, method, GRB2_OFFSET) for m in mutants]
    np.testing.assert_allclose(got["score"], expected, rtol=1e-4, atol=1e-5)
    assert got["score"].iloc[-1] == 0.0
    # a wild type longer than the window: each site is read through a window around it
    windowed = score_mutations(tiny_enc, grb2_wt, mutants, method=method, offset=GRB2_OFFSET, window=20)
    expected = [_naive_score(tiny_enc, grb2_wt, m, method, GRB2_OFFSET, window=20) for m in mutants]
    np.testing.assert_allclose(windowed["score"], expected, rtol=1e-4, atol=1e-5)


def test_score_all_grb2_variants_and_additivity(tiny_enc, grb2, grb2_wt) -> None:
    for method in ("wt-marginal", "masked-marginal"):
        t0 = time.perf_counter()
        scores = score_mutations(tiny_enc, grb2_wt, grb2["mutant"], method=method, offset=GRB2_OFFSET)
        rate = len(grb2) / (time.perf_counter() - t0)
        print(f"\n{method}: {len(grb2):,} GRB2 variants, {rate:,.0f} variants/s (tiny random ESM, CPU)")
        assert len(scores) == len(grb2) and np.isfinite(scores["score"]).all()
        # sites are scored independently, so a double mutant's score is the sum of its singles'
        single = dict(zip(scores["mutant"], scores["score"]))
        doubles = grb2["mutant"][grb2["num_mutations"] == 2].head(500)
        summed = [sum(single[str(m)] for m in parse_mutations(d)) for d in doubles]
        np.testing.assert_allclose(scores["score"][doubles.index], summed, rtol=1e-5, atol=1e-5)


def test_scoring_errors(tiny_enc, grb2_wt) -> None:
    with pytest.raises(InvalidInputError) as err:
        score_mutations(tiny_enc, grb2_wt, ["T159A", "A159G", "Y160W"], offset=GRB2_OFFSET)
    assert [r.index for r in err.value.records] == [1]
    assert "expected wild-type residue 'A' at position 159, found 'T'" in err.value.records[0].reason
    no_head = sciptm.Encoder(tiny_enc.model, tiny_enc.tokenizer, tiny_enc.domain)
    assert no_head.lm_model is None
    with pytest.raises(ValueError, match="masked-language-model head"):
        score_mutations(no_head, grb2_wt, ["T159A"], offset=GRB2_OFFSET)
    with pytest.raises(ValueError, match="method must be one of"):
        score_mutations(tiny_enc, grb2_wt, ["T159A"], method="pseudo-ll", offset=GRB2_OFFSET)


def test_model_trained_on_wild_type_scores_mutations_below_zero(grb2, grb2_wt) -> None:
    """A masked LM that has seen only the wild type should find (almost) every substitution unlikely."""
    enc = sciptm.Encoder.from_config(domain="protein", size=TINY, seed=0,
                                     hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    singles = grb2["mutant"][grb2["num_mutations"] == 1]
    before = score_mutations(enc, grb2_wt, singles, method="masked-marginal", offset=GRB2_OFFSET)["score"]
    tok = enc.tokenizer
    ids = torch.tensor(tok([grb2_wt] * 8)["input_ids"])
    opt = torch.optim.AdamW(enc.lm_model.parameters(), lr=2e-2)
    gen = torch.Generator().manual_seed(0)
    enc.lm_model.train()
    for _ in range(100):
        masked = torch.rand(ids.shape, generator=gen) < 0.3
        masked[:, 0] = masked[:, -1] = False
        loss = enc.lm_model(input_ids=ids.masked_fill(masked, tok.mask_token_id), attention_mask=torch.ones_like(ids),
                            labels=ids.masked_fill(~masked, -100)).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    for method in ("masked-marginal", "wt-marginal"):
        after = score_mutations(enc, grb2_wt, singles, method=method, offset=GRB2_OFFSET)["score"]
        assert after.mean() < -1.0 and (after < 0).mean() > 0.7, (method, after.mean(), (after < 0).mean())
    assert after.mean() < before.mean() - 1.0
