"""Reference timings with Python onnxruntime on the same model files.

Measures, for each model: a ~16-token query, a 128-token passage (one at a
time), and throughput on batches of 32 x 128-token passages; median of
repeated runs, with the same thread count as the Rust pipeline.

  .cache/venv/bin/python scripts/bench_python_ort.py [--threads 2]
"""
import argparse
import json
import os
import statistics
import time

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

WORDS = ("deploy the index after migration failed because signing key rotation was late and "
         "staging cluster ran out of memory while rebuilding graph we lowered batch size agent "
         "diary entry search query latency budget postgres vector text team review incident "
         "fixed tests passed production release notes").split()


def text_of(tok, tokens, seed):
    words, i = [], seed
    while True:
        words.append(WORDS[(i * 7 + 3) % len(WORDS)])
        i += 1
        t = " ".join(words)
        if len(tok.encode(t).ids) >= tokens:
            return t


def run(sess, tok, texts):
    encs = [tok.encode(t) for t in texts]
    width = max(len(e.ids) for e in encs)
    ids = np.zeros((len(encs), width), dtype=np.int64)
    mask = np.zeros_like(ids)
    for r, e in enumerate(encs):
        ids[r, : len(e.ids)] = e.ids
        mask[r, : len(e.ids)] = 1
    (h,) = sess.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})
    m = mask[..., None].astype(np.float32)
    v = (h * m).sum(1) / m.sum(1)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def median_ms(fn, reps):
    fn()
    samples = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1e3)
    return statistics.median(samples)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--cache", default=os.path.join(os.path.dirname(__file__), "..", ".cache"))
    args = ap.parse_args()
    models = {
        "all-minilm-l6-v2": "all-minilm-l6-v2/model.onnx",
        "all-minilm-l6-v2-int8": "all-minilm-l6-v2/model-int8.onnx",
        "e5-shape-bench": "e5-shape-bench/model.onnx",
        "e5-shape-bench-int8": "e5-shape-bench/model-int8.onnx",
    }
    out = {}
    for name, rel in models.items():
        path = os.path.join(args.cache, "models", rel)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = args.threads
        opts.inter_op_num_threads = 1
        sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
        tok = Tokenizer.from_file(os.path.join(os.path.dirname(path), "tokenizer.json"))
        tok.enable_truncation(512)
        q, p = text_of(tok, 16, 0), text_of(tok, 128, 5)
        batch = [p] * 32
        b_ms = median_ms(lambda: run(sess, tok, batch), 5)
        out[name] = {
            "query_16tok_ms": round(median_ms(lambda: run(sess, tok, [q]), 50), 2),
            "passage_128tok_ms": round(median_ms(lambda: run(sess, tok, [p]), 20), 2),
            "passages_32x128_per_s": round(32 / (b_ms / 1e3), 1),
        }
        print(name, json.dumps(out[name]), flush=True)


if __name__ == "__main__":
    main()
