"""Regenerates the expected numbers of wer.test.ts from jiwer (the reference WER implementation).

    python3 -m venv /tmp/jiwer-venv && /tmp/jiwer-venv/bin/pip install jiwer==4.0.0
    /tmp/jiwer-venv/bin/python test/unit/eval/jiwer_reference.py

Prints one TypeScript object per pair; paste the output into PAIRS in wer.test.ts.
"""
import json
from importlib import metadata

import jiwer

PAIRS = [
    ("allume la lumière", "allume la lumière"),
    ("allume la lumière", ""),
    ("a b", "a x b y z"),
    ("éteins la lumière dans le salon", "éteins les lumières du salon"),
    ("a b", "b c"),
    ("a b c d", "x a c d y"),
    ("d c b f e", "d g f c c"),
    ("combien de temps reste t il", "combien de temps restent ils"),
    ("l'été est là", "l été est la"),
    ("le chat dort", "chat le dort"),
    ("un deux trois quatre cinq", "deux trois quatre cinq six"),
    ("minuteur 10 minutes", "minuteur dix minutes"),
    ("a", "b c d e"),
    ("ça a changé", "ca à changé"),
    ("the cat sat on the mat", "the cat sat on mat the"),
    ("allume le rez de chaussée à 80 pour cent", "allume le rédech au c à 80 pour cent"),
    ("", "a b c"),
]


def counts(o):
    return {"s": o.substitutions, "d": o.deletions, "i": o.insertions, "h": o.hits}


print("// jiwer", metadata.version("jiwer"), "rapidfuzz", metadata.version("rapidfuzz"))
for ref, hyp in PAIRS:
    w = jiwer.process_words(ref, hyp)
    try:
        c = jiwer.process_characters(ref, hyp)
    except ValueError:  # jiwer refuses some empty inputs at character level
        c = None
    row = {"ref": ref, "hyp": hyp, "wer": w.wer, "word": counts(w)}
    if c is not None:
        row["cer"] = c.cer
        row["char"] = counts(c)
    print(json.dumps(row, ensure_ascii=False) + ",")

# Corpus aggregation: errors summed over all pairs / reference words summed.
refs = [r for r, _ in PAIRS if r]
hyps = [h for r, h in PAIRS if r]
print("// corpus wer", jiwer.wer(refs, hyps))
print("// corpus cer", jiwer.cer(refs, hyps))
