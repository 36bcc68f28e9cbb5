#!/usr/bin/env python3
"""Extract the `tokenizer.chat_template` string from a GGUF file (little-endian, version 2/3).

Usage: extract_template.py MODEL.gguf [OUT.jinja]
Writes the template bytes verbatim (no newline added). Reads only the metadata section.
Format per shared/spec/gguf-and-quants.md section 1.
"""
import struct
import sys

KEY = "tokenizer.chat_template"
# scalar value type id -> struct format
SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<b",
           10: "<Q", 11: "<q", 12: "<d"}
STRING, ARRAY = 8, 9


class Reader:
    def __init__(self, f):
        self.f = f

    def read(self, fmt):
        size = struct.calcsize(fmt)
        data = self.f.read(size)
        if len(data) != size:
            raise EOFError("truncated GGUF")
        return struct.unpack(fmt, data)[0]

    def string(self):
        n = self.read("<Q")
        data = self.f.read(n)
        if len(data) != n:
            raise EOFError("truncated string")
        return data

    def skip_value(self, vtype):
        if vtype in SCALARS:
            self.f.seek(struct.calcsize(SCALARS[vtype]), 1)
        elif vtype == STRING:
            n = self.read("<Q")
            self.f.seek(n, 1)
        elif vtype == ARRAY:
            etype = self.read("<i")
            count = self.read("<Q")
            if etype in SCALARS:
                self.f.seek(count * struct.calcsize(SCALARS[etype]), 1)
            elif etype == STRING:
                for _ in range(count):
                    n = self.read("<Q")
                    self.f.seek(n, 1)
            else:
                raise ValueError("bad array element type %d" % etype)
        else:
            raise ValueError("bad value type %d" % vtype)


def extract(path):
    with open(path, "rb") as f:
        r = Reader(f)
        if f.read(4) != b"GGUF":
            raise ValueError("not a GGUF file")
        version = r.read("<I")
        if version not in (2, 3):
            raise ValueError("unsupported GGUF version %d" % version)
        r.read("<q")  # n_tensors
        n_kv = r.read("<q")
        for _ in range(n_kv):
            key = r.string().decode("utf-8")
            vtype = r.read("<i")
            if key == KEY and vtype == STRING:
                return r.string()
            r.skip_value(vtype)
    raise KeyError("%s not found in %s" % (KEY, path))


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    tmpl = extract(sys.argv[1])
    if len(sys.argv) == 3:
        with open(sys.argv[2], "wb") as out:
            out.write(tmpl)
    else:
        sys.stdout.buffer.write(tmpl)


if __name__ == "__main__":
    main()
