"""Pieces the GPU report scripts share: a markdown table and the JSON + markdown pair they write."""
import json
import os


def add_report_args(ap, notes=False):
    """The arguments every report script takes: where to write, and what the run was."""
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--date", required=True)
    ap.add_argument("--commit", default="unknown")
    ap.add_argument("--command", default="")
    if notes:
        ap.add_argument("--notes", default="", help="file whose markdown is appended (op tests, observations)")


def md_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def fmt(x, spec):
    return format(x, spec) if x is not None else "-"


def write_report(out_dir, stem, data, markdown):
    """Writes <out_dir>/<stem>.json and .md; returns the markdown path."""
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, stem + ".json"), "w") as f:
        json.dump(data, f, indent=2)
    path = os.path.join(out_dir, stem + ".md")
    with open(path, "w") as f:
        f.write(markdown.rstrip() + "\n")
    return path
