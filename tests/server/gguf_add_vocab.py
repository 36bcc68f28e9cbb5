#!/usr/bin/env python3
"""tests/server/gguf_add_vocab.py SRC DST — copies a GGUF adding a synthetic 256-token SPM
vocabulary (0 <pad>, 1 <eos>, 2 <bos>, 3 <unk>, i "[i]"; the same as engine/vocab_testing.h),
so the vocabulary-less tiny Gemma 4 test models can be served. Tensor data is copied as is."""
import struct
import sys

SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}


def main(src, dst):
    f = open(src, "rb").read()
    if f[:4] != b"GGUF":
        sys.exit(f"{src}: not a GGUF file")
    n_tensors, n_kv = struct.unpack_from("<QQ", f, 8)

    def read_str(o):
        n = struct.unpack_from("<Q", f, o)[0]
        return f[o + 8:o + 8 + n], o + 8 + n

    off, align, kvs = 24, 32, []
    for _ in range(n_kv):
        key, p = read_str(off)
        t = struct.unpack_from("<I", f, p)[0]
        p += 4
        if t == 8:
            _, p = read_str(p)
        elif t == 9:
            et, n = struct.unpack_from("<IQ", f, p)
            p += 12
            if et == 8:
                for _ in range(n):
                    _, p = read_str(p)
            else:
                p += SIZES[et] * n
        else:
            if key == b"general.alignment":
                align = struct.unpack_from("<I", f, p)[0]
            p += SIZES[t]
        if not key.startswith(b"tokenizer.ggml."):
            kvs.append(f[off:p])
        off = p
    infos = []  # tensor info records: offsets are relative to the data section, kept as they are
    for _ in range(n_tensors):
        _, p = read_str(off)
        n_dims = struct.unpack_from("<I", f, p)[0]
        p += 4 + 8 * n_dims + 4 + 8
        infos.append(f[off:p])
        off = p
    data_start = (off + align - 1) // align * align

    def s(x):
        x = x.encode()
        return struct.pack("<Q", len(x)) + x

    def arr(key, elem, fmt, values):
        return s(key) + struct.pack("<IIQ", 9, elem, len(values)) + b"".join(struct.pack(fmt, v) for v in values)

    tokens = ["<pad>", "<eos>", "<bos>", "<unk>"] + [f"[{i}]" for i in range(4, 256)]
    extra = [
        s("tokenizer.ggml.model") + struct.pack("<I", 8) + s("llama"),
        s("tokenizer.ggml.tokens") + struct.pack("<IIQ", 9, 8, 256) + b"".join(s(t) for t in tokens),
        arr("tokenizer.ggml.token_type", 5, "<i", [3, 3, 3, 2] + [1] * 252),
        arr("tokenizer.ggml.scores", 6, "<f", [0.0] * 256),
        s("tokenizer.ggml.bos_token_id") + struct.pack("<II", 4, 2),
        s("tokenizer.ggml.eos_token_id") + struct.pack("<II", 4, 1),
        s("tokenizer.ggml.unknown_token_id") + struct.pack("<II", 4, 3),
        s("tokenizer.ggml.add_bos_token") + struct.pack("<I?", 7, False),
    ]
    out = bytearray(f[:8] + struct.pack("<QQ", n_tensors, len(kvs) + len(extra)))
    for kv in kvs + extra:
        out += kv
    for info in infos:
        out += info
    out += b"\0" * ((len(out) + align - 1) // align * align - len(out))
    out += f[data_start:]
    open(dst, "wb").write(out)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
