"""Validate the replies written by `examples/emit_replies.rs` with hl7apy
(HL7 2.5.1 base structures, STRICT level).

    cargo run -p immunis-hl7 --example emit_replies -- /tmp/replies
    pip install hl7apy && python3 tools/check_hl7apy.py /tmp/replies

hl7apy only knows QPD-1..3 (QPD user parameters vary by query), so the QPD
echo is cut to 3 fields before validation. Known, accepted differences:
MSA-2 is empty when the incoming MSH-10 was (as in CDC IG example 018), and
an incoming HD longer than 20 characters is echoed as received.
"""
import collections
import glob
import sys

from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message

folder = sys.argv[1] if len(sys.argv) > 1 else "/tmp/replies"
fails = collections.Counter()
examples = {}
ok = 0
for f in sorted(glob.glob(folder + "/*.hl7")):
    text = open(f, encoding="utf-8", newline="").read()
    kind = f.split(".")[-2]
    text = "\r".join(
        ("|".join(l.split("|")[:4]) if l.startswith("QPD") else l) for l in text.split("\r")
    )
    try:
        m = parse_message(text, find_groups=True, validation_level=VALIDATION_LEVEL.STRICT)
        m.validate()
        ok += 1
    except Exception as e:  # report every failure kind once
        key = (kind, type(e).__name__, str(e)[:150])
        fails[key] += 1
        examples.setdefault(key, f)
print("ok", ok, "failed", sum(fails.values()))
for k, v in fails.most_common(30):
    print(v, k, examples[k])
