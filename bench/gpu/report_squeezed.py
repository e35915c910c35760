"""Joins cuda-squeeze-bench's and sdpa_bench.py's JSON into bench/results/gpu-squeezed-<date>.{json,md}:
squeezed decode (lookup included) beside dense cuDNN / flash SDPA and our dense decode, all measured
in the same device run.

    python3 bench/gpu/report_squeezed.py --squeezed sq.json --sdpa sdpa.json --out-dir DIR --date YYYY-MM-DD \
        --commit SHA --command "..." [--baseline base.json --baseline-commit SHA]

--baseline: the same bench built from an earlier commit and run in the same call; its graph and lookup
times sit beside this commit's.
"""
import argparse
import json
import os

from report_util import add_report_args, fmt, md_table, write_report


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--squeezed", required=True)
    ap.add_argument("--sdpa", required=True)
    ap.add_argument("--baseline")
    ap.add_argument("--baseline-commit", default="baseline")
    add_report_args(ap, notes=True)
    args = ap.parse_args()
    sq = json.load(open(args.squeezed))
    sdpa = json.load(open(args.sdpa))
    base = json.load(open(args.baseline))["squeezed"] if args.baseline and os.path.exists(args.baseline) else []

    def base_row(row):
        for r in base:
            if (r["Hkv"], r["keys"], r["target_sparsity"]) == (row["Hkv"], row["keys"], row["target_sparsity"]):
                return r
        return None

    def ref(row, backend):
        for r in sdpa["rows"]:
            if (r["kv"], r["Hkv"], r["keys"], r["backend"]) == (row["kv"], row["Hkv"], row["keys"], backend):
                return r
        return None

    rows = []
    for row in sq["squeezed"]:
        out = dict(row)
        for backend in ("cudnn", "flash"):
            r = ref(row, backend)
            out[f"{backend}_ms"] = r["ms"] if r else None
            out[f"speedup_vs_{backend}"] = r["ms"] / row["ms"] if r and r.get("ms") and row["ms"] > 0 else None
        out["speedup_vs_dense_ours"] = row["dense_ours_ms"] / row["ms"] if row["ms"] > 0 else None
        graph = row.get("graph_ms")
        out["graph_speedup_vs_cudnn"] = out["cudnn_ms"] / graph if out["cudnn_ms"] and graph and graph > 0 else None
        b = base_row(row)
        if b:
            out["baseline_graph_ms"] = b.get("graph_ms")
            out["baseline_lookup_ms"] = b.get("lookup_ms")
        rows.append(out)

    result = {"date": args.date, "card": sq["card"], "commit": args.commit, "command": args.command,
              "torch": sdpa.get("torch"), "cudnn_version": sdpa.get("cudnn"), "squeezed": rows}
    if base:
        result["baseline_commit"] = args.baseline_commit
    graphs = any(r.get("graph_ms") for r in rows)
    lookup3 = any(r.get("lookup_3_blocks_ms") for r in rows)
    baseline = any(r.get("baseline_graph_ms") for r in rows)

    def x(v):
        return f"{v:.2f}x" if v else "-"

    lines = [
        f"# Squeezed decode attention vs dense cuDNN, {args.date}",
        "",
        f"Card: {sq['card']}. Commit {args.commit}. PyTorch {sdpa.get('torch')}, cuDNN {sdpa.get('cudnn')}.",
        "",
        f"Command: `{args.command}`",
        "",
        "One query token, bf16, H = 32, d = 128. Squeezed = lookup (level-1 centroids in full, level-2 children of",
        "passing parents, the slot lists) + split-K attention over the selected slots, read in place. K1 = 1% and",
        "K2 = 5% of N clusters of uneven sizes, 104 always-attended slots. Achieved = 1 - keys read / keys.",
        "TB/s = (K and V bytes of the selected keys + centroid bytes) / time. Speedup = dense time / squeezed time.",
        "Median over 7 batches of back-to-back calls (CUDA events); index copies rotated so L2 holds no previous call.",
        "",
        "Other kernel: the same squeezed decode with the alternative the row names (per-head: attention_decode",
        "splitting each head's list on its own instead of equal chunks across all heads; mma / cores: the attention",
        "kernel the default does not pick). Heads max/mean: the largest KV head's selected keys over the mean.",
    ]
    if graphs:
        lines.append("Graph: the same squeezed decode replayed from CUDA graphs (no host launches in the timing).")
    if lookup3:
        lines.append("Lookup 3/SM: the lookup alone with its kernel capped at 80 registers, 3 blocks an SM (default: 64, 4).")
    if baseline:
        lines.append(f"Baseline: the same bench built from commit {args.baseline_commit}, run in the same call (graph and lookup ms).")
    header = ["Hkv", "keys", "target", "achieved", "squeezed ms", "lookup ms (share)", "TB/s", "cuDNN dense ms", "vs cuDNN",
              "vs flash", "vs our dense", "other kernel ms", "heads max/mean"] + (["graph ms", "graph vs cuDNN"] if graphs else []) + \
        (["lookup 3/SM ms"] if lookup3 else []) + \
        (["baseline graph ms", "baseline lookup ms"] if baseline else [])
    table = []
    for r in rows:
        cells = [r["Hkv"], r["keys"], f"{r['target_sparsity']:.2f}", f"{r['achieved_sparsity']:.3f}", f"{r['ms']:.4f}",
                 f"{r['lookup_ms']:.4f} ({100 * r['lookup_share']:.0f}%)", f"{r['tbps']:.2f}", fmt(r.get("cudnn_ms"), ".4f"),
                 x(r["speedup_vs_cudnn"]), x(r["speedup_vs_flash"]), x(r["speedup_vs_dense_ours"]),
                 f"{r.get('alt_kernel', '-')} {r.get('alt_ms', 0):.4f}", f"{r.get('head_keys_max_over_mean', 0):.2f}"]
        if graphs:
            cells += [fmt(r.get("graph_ms"), ".4f"), x(r.get("graph_speedup_vs_cudnn"))]
        if lookup3:
            cells.append(fmt(r.get("lookup_3_blocks_ms"), ".4f"))
        if baseline:
            cells += [fmt(r.get("baseline_graph_ms"), ".4f"), fmt(r.get("baseline_lookup_ms"), ".4f")]
        table.append(cells)
    lines += ["", md_table(header, table)]
    if args.notes and os.path.exists(args.notes):
        lines += ["", open(args.notes).read().rstrip()]
    write_report(args.out_dir, f"gpu-squeezed-{args.date}", result, "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
