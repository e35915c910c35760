"""PyTorch scaled_dot_product_attention as the reference for a 1K-token question's prefill.

q [1, H, 1024, d] over K/V [1, Hkv, keys + 1024, d] (a fixed context then the question's own keys),
bf16, H = 32, d = 128, cuDNN and flash backends forced one at a time. Two masks:
  "none":        every query sees every key (the question's keys too): a hair more work than causal,
                 1024^2 / 2 extra pairs, 1.5% at 32K keys and under 0.4% from 128K;
  "lower_right": causal aligned to the last key (torch.nn.attention.bias.causal_lower_right), which is
                 what our kernel computes, where the backend takes it.
GQA runs natively (enable_gqa=True); where a backend refuses, K/V are expanded to H heads outside the
timing and the row is marked "expanded". Times: median over 7 batches of --reps back-to-back calls
(CUDA events) after warm-up, as native/tools/cuda-prefill-bench.cpp.

    python3 bench/gpu/sdpa_prefill_bench.py --json out.json [--reps 3] [--max-keys 524288]
"""
import argparse
import json

import torch
from torch.nn.attention.bias import causal_lower_right

from sdpa_bench import BACKENDS, run_backend

QUESTION = 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", required=True)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--max-keys", type=int, default=524288)
    args = ap.parse_args()
    n_heads, d = 32, 128
    rows = []
    print(f"{'Hkv':>4} {'keys':>8} {'backend':8} {'mask':12} {'mode':9} {'ms':>10} {'TFLOP/s':>8}")
    for n_kv_heads in (32, 8):
        for keys in (32768, 131072, 262144, 524288):
            if keys > args.max_keys:
                continue
            total = keys + QUESTION
            q = torch.randn(1, n_heads, QUESTION, d, device="cuda", dtype=torch.bfloat16)
            k = torch.randn(1, n_kv_heads, total, d, device="cuda", dtype=torch.bfloat16)
            v = torch.randn(1, n_kv_heads, total, d, device="cuda", dtype=torch.bfloat16)
            for mask_name in ("none", "lower_right"):
                mask = None if mask_name == "none" else causal_lower_right(QUESTION, total)
                pairs = QUESTION * total if mask_name == "none" else QUESTION * keys + QUESTION * (QUESTION + 1) // 2
                for backend in BACKENDS:
                    row = {"H": n_heads, "Hkv": n_kv_heads, "d": d, "keys": keys, "question": QUESTION,
                           "backend": backend, "mask": mask_name}
                    mode = "native"
                    try:
                        ms = run_backend(backend, q, k, v, n_kv_heads != n_heads, args.reps, mask)
                    except Exception as native_error:  # GQA or this mask refused
                        row["native_error"] = str(native_error).splitlines()[0][:200]
                        try:
                            group = n_heads // n_kv_heads
                            ke, ve = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
                            mode = "expanded"
                            ms = run_backend(backend, q, ke, ve, False, args.reps, mask)
                            del ke, ve
                        except Exception as error:
                            row["error"] = str(error).splitlines()[0][:200]
                            ms = None
                    row["mode"] = mode
                    row["ms"] = ms
                    row["tflops"] = 4 * d * n_heads * pairs / (ms * 1e-3) / 1e12 if ms else None
                    rows.append(row)
                    shown = f"{ms:10.4f} {row['tflops']:8.1f}" if ms else "   failed: " + row.get("error", "")
                    print(f"{n_kv_heads:4} {keys:8} {backend:8} {mask_name:12} {mode:9} {shown}", flush=True)
            del q, k, v
            torch.cuda.empty_cache()
    info = {"card": torch.cuda.get_device_name(0), "torch": torch.__version__,
            "cudnn": torch.backends.cudnn.version(), "reps": args.reps, "rows": rows}
    with open(args.json, "w") as f:
        json.dump(info, f, indent=2)


if __name__ == "__main__":
    main()
