"""PyTorch scaled_dot_product_attention as the reference for dense decode attention.

One query token per head (q [1, H, 1, d]) over K/V caches [1, Hkv, keys, d], bf16 and f16, with
the cuDNN and flash backends forced one at a time. GQA runs natively (enable_gqa=True); where a
backend refuses that, the caches are expanded to H heads (a copy, outside the timing) and the run is
marked "expanded": it then reads H/Hkv times the bytes. Times: median over 7 batches of --reps
back-to-back calls (CUDA events), after warm-up, as in native/tools/cuda-bench.cpp.

    python3 bench/gpu/sdpa_bench.py --json out.json [--reps 20] [--max-keys 524288] [--dtypes bf16,f16]
"""
import argparse
import json
import statistics

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

BACKENDS = {"cudnn": SDPBackend.CUDNN_ATTENTION, "flash": SDPBackend.FLASH_ATTENTION}


def median_ms(fn, reps):
    """Milliseconds per call: median over 7 batches of `reps` back-to-back calls (as cuda-bench)."""
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(7):
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(reps):
            fn()
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop) / reps)
    return statistics.median(times)


def run_backend(backend, q, k, v, gqa, reps, mask=None):
    with sdpa_kernel(BACKENDS[backend]):
        fn = lambda: F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=gqa)
        fn()
        return median_ms(fn, reps)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", required=True)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--max-keys", type=int, default=524288)
    ap.add_argument("--dtypes", default="bf16,f16", help="comma-separated: bf16, f16")
    args = ap.parse_args()

    n_heads, d = 32, 128
    rows = []
    print(f"{'kv':5} {'Hkv':>4} {'keys':>8} {'backend':8} {'mode':9} {'ms':>10} {'TB/s':>8}")
    dtypes = [(t, n) for t, n in ((torch.bfloat16, "bf16"), (torch.float16, "f16")) if n in args.dtypes.split(",")]
    for dtype, name in dtypes:
        for n_kv_heads in (32, 8):
            for keys in (32768, 131072, 262144, 524288):
                if keys > args.max_keys:
                    continue
                q = torch.randn(1, n_heads, 1, d, device="cuda", dtype=dtype)
                k = torch.randn(1, n_kv_heads, keys, d, device="cuda", dtype=dtype)
                v = torch.randn(1, n_kv_heads, keys, d, device="cuda", dtype=dtype)
                for backend in BACKENDS:
                    row = {"kv": name, "H": n_heads, "Hkv": n_kv_heads, "d": d, "keys": keys, "backend": backend}
                    mode, heads_read = "native", n_kv_heads
                    try:
                        ms = run_backend(backend, q, k, v, n_kv_heads != n_heads, args.reps)
                    except Exception as native_error:  # backend refuses GQA or this shape
                        row["native_error"] = str(native_error).splitlines()[0][:200]
                        try:
                            group = n_heads // n_kv_heads
                            ke = k.repeat_interleave(group, dim=1)
                            ve = v.repeat_interleave(group, dim=1)
                            mode, heads_read = "expanded", n_heads
                            ms = run_backend(backend, q, ke, ve, False, args.reps)
                            del ke, ve
                        except Exception as error:
                            row["error"] = str(error).splitlines()[0][:200]
                            ms = None
                    row["mode"] = mode
                    row["ms"] = ms
                    row["tbps"] = 2 * heads_read * keys * d * 2 / (ms * 1e-3) / 1e12 if ms else None
                    rows.append(row)
                    shown = f"{ms:10.4f} {row['tbps']:8.3f}" if ms else "   failed: " + row.get("error", "")
                    print(f"{name:5} {n_kv_heads:4} {keys:8} {backend:8} {mode:9} {shown}")
                del q, k, v
                torch.cuda.empty_cache()
    info = {
        "card": torch.cuda.get_device_name(0),
        "torch": torch.__version__,
        "cudnn": torch.backends.cudnn.version(),
        "reps": args.reps,
        "rows": rows,
    }
    with open(args.json, "w") as f:
        json.dump(info, f, indent=2)


if __name__ == "__main__":
    main()
