"""Turns cuda-kmeans-bench's JSON (and cuda-kmeans-test's output) into bench/results/gpu-kmeans-<date>.{json,md}.

    python3 bench/gpu/report_kmeans.py --bench km.json --test test.txt --out-dir DIR --date YYYY-MM-DD \
        --commit SHA --command "..."
"""
import argparse
import json

from report_util import add_report_args, md_table, write_report


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", required=True)
    ap.add_argument("--test", default="")
    add_report_args(ap)
    args = ap.parse_args()
    b = json.load(open(args.bench))
    goal = "met" if b["total_s"] <= 10 else "**not met**"
    md = [f"# K-means on the GPU, {args.date}", "",
          f"Card: {b['card']}. Commit {args.commit}.", "", f"Command: `{args.command}`", "",
          f"{b['layers']} layers x {b['kv_heads']} KV heads x {b['keys']} keys, d {b['dim']}, {b['key_type']} keys; "
          f"level 2: K2 = {b['k2']} (5%), level 1: K1 = {b['k1']} (1%) over the level-2 centroids; "
          f"{b['iters']} Lloyd steps, k-means|| seeding in {b['seed_rounds']} rounds; one call per layer and level, "
          "all KV heads of the layer batched.", "",
          md_table(["what", "value"], [
              ["total, all layers, both levels", f"{b['total_s']:.3f} s (goal <= 10 s: {goal})"],
              ["one layer, level 2", f"{b['layer_level2_ms']:.1f} ms"],
              ["  of which seeding + finishing", f"{b['seed_finish_ms']:.1f} ms"],
              ["  one Lloyd step", f"{b['lloyd_step_ms']:.2f} ms ({b['assign_tflops']:.0f} TFLOP/s in the assignment product)"],
              ["one layer, level 1", f"{b['layer_level1_ms']:.2f} ms"],
              ["mean 1 - cos per key", f"{b['mean_objective']:.5f} after {b['iters']} steps, "
                                       f"{b['mean_objective_2x_iters']:.5f} after {2 * b['iters']} ({b['layer_2x_iters_ms']:.1f} ms a layer)"],
          ])]
    if args.test:
        md += ["", "## Against the CPU K-means (cuda-kmeans-test, same run)", "", "```", open(args.test).read().rstrip(), "```"]
    data = dict(b, date=args.date, commit=args.commit, command=args.command)
    print(write_report(args.out_dir, f"gpu-kmeans-{args.date}", data, "\n".join(md)))
    print("\n".join(md))


if __name__ == "__main__":
    main()
