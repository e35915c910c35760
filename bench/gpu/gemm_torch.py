"""torch.matmul in bf16 (cuBLAS) on the shapes of native/tools/cuda-gemm-bench.cpp, same run, same card:
y[tokens][rows] = x[tokens][cols] @ W[rows][cols]^T, in TFLOP/s (2 * rows * cols * tokens per second).

    python3 bench/gpu/gemm_torch.py OUT.json
"""
import json
import sys

import torch

SHAPES = [("smollm2", "q/o 576x576", 576, 576), ("smollm2", "k/v 192x576", 192, 576),
          ("smollm2", "gate/up 1536x576", 1536, 576), ("smollm2", "down 576x1536", 576, 1536),
          ("llama-8b", "q/o 4096x4096", 4096, 4096), ("llama-8b", "gate/up 14336x4096", 14336, 4096),
          ("llama-8b", "down 4096x14336", 4096, 14336)]


def median_ms(fn, reps=20):
    fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop))
    return sorted(times)[reps // 2]


def main():
    results = []
    print(f"card: {torch.cuda.get_device_name()}, torch {torch.__version__}")
    for model, name, rows, cols in SHAPES:
        for tokens in (512, 2048):
            w = torch.randn(rows, cols, device="cuda", dtype=torch.bfloat16)
            x = torch.randn(tokens, cols, device="cuda", dtype=torch.bfloat16)
            ms = median_ms(lambda: torch.matmul(x, w.t()))
            tflops = 2.0 * rows * cols * tokens / (ms * 1e-3) / 1e12
            print(f"{model:9s} {name:20s} {tokens:6d} {ms:10.4f} ms {tflops:8.2f} TFLOP/s")
            results.append({"model": model, "shape": name, "n_rows": rows, "n_cols": cols, "n_tokens": tokens,
                            "ms": ms, "tflops": tflops})
    with open(sys.argv[1], "w") as f:
        json.dump({"card": torch.cuda.get_device_name(), "torch": torch.__version__, "dtype": "bf16",
                   "command": "python3 bench/gpu/gemm_torch.py " + sys.argv[1], "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
