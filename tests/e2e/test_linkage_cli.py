"""Record-linkage CLI end to end: import synthetic traffic, run `immunis dedup`,
list the review queue, resolve an item, merge and unmerge two records; the audit
chain stays intact."""
import re
import subprocess

from conftest import BIN, run_cli


def test_dedup_review_merge_unmerge(tmp_path):
    data = str(tmp_path / "reg")
    hl7 = tmp_path / "synth.hl7"
    truth = tmp_path / "truth.csv"
    run_cli("synth", "--people", "150", "--today", "2025-06-30", "--out", str(hl7), "--truth", str(truth))
    assert truth.read_text().startswith("message_control_id,person_key,")
    run_cli("import", "--data-dir", data, str(hl7))
    dedup = run_cli("dedup", "--data-dir", data).stdout
    m = re.search(r"pairs compared (\d+), merged (\d+), queued for review (\d+)", dedup)
    assert m, dedup
    listing = run_cli("review", "list", "--data-dir", data, "--limit", "5").stdout
    items = re.findall(r"^review (\d+) ", listing, re.M)
    if items:
        assert "first_name" in listing
        run_cli("review", "resolve", "--data-dir", data, items[0], "--different")
        again = subprocess.run([BIN, "review", "resolve", "--data-dir", data, items[0], "--same"],
                               capture_output=True, text=True, timeout=60)
        assert again.returncode != 0, "an item is resolved once"
    # Merge two records by hand (the first pair not already one person), then undo it.
    other = None
    for n in range(2, 40):
        r = subprocess.run([BIN, "merge", "--data-dir", data, "1", str(n)], capture_output=True, text=True, timeout=60)
        if r.returncode == 0:
            m = re.search(r"patient (\d+) merged into 1 ", r.stdout)
            assert m, r.stdout
            other = int(m.group(1))
            break
    assert other is not None
    unmerged = run_cli("unmerge", "--data-dir", data, str(other)).stdout
    assert "separated from 1" in unmerged
    bad = subprocess.run([BIN, "unmerge", "--data-dir", data, str(other)], capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0, "already separated"
    run_cli("audit", "verify", "--data-dir", data)
