"""Rebuild sciptm/domains/smiles/vocab.txt: regex tokens seen >= 5 times in MOSES test and
the nine MoleculeNet files (from the data mirror), most frequent first.

    python scripts/build_smiles_vocab.py ../shared/datasets > sciptm/domains/smiles/vocab.txt
"""
import gzip
import sys
from collections import Counter
from pathlib import Path

import pandas as pd

from sciptm.domains.smiles.tokenizer import split_smiles

root = Path(sys.argv[1]) / "chem"
counts: Counter[str] = Counter()
with gzip.open(root / "moses_test.csv.gz", "rt") as fh:
    next(fh)
    for line in fh:
        counts.update(split_smiles(line.strip()))
for name, col in [("delaney-processed.csv", "smiles"), ("SAMPL.csv", "smiles"), ("Lipophilicity.csv", "smiles"),
                  ("BBBP.csv", "smiles"), ("bace.csv", "mol"), ("clintox.csv.gz", "smiles"),
                  ("tox21.csv.gz", "smiles"), ("sider.csv.gz", "smiles"), ("HIV.csv", "smiles")]:
    for smi in pd.read_csv(root / name)[col].dropna():
        counts.update(split_smiles(str(smi)))
single = list("CNOSPFIcnosp()[]=#-+\\/:.~@?>*$%0123456789") + ["Cl", "Br"] + [f"%{i}" for i in range(10, 20)]
vocab = [t for t, n in counts.most_common() if n >= 5]
for t in single:
    if t not in vocab and split_smiles(t) == [t]:
        vocab.append(t)
print("\n".join(vocab))
