// cli/cmd_quantize.cpp — `fitserve quantize IN OUT TYPE`: requantize a GGUF's matrices.
// Matrices (2-D+ weights whose rows are a multiple of the type's block) get TYPE; 1-D tensors
// (norms, scales) stay as they are; rows that do not fit the block size fall back to F16 (or
// stay F32 with --keep-odd). Metadata is copied; general.file_type is left unchanged.
#include <cstdio>
#include <string>
#include <vector>

#include "cli/command.h"
#include "core/error.h"
#include "gguf/gguf.h"
#include "quant/quant.h"

namespace fitserve::cli {
namespace {

int usage() {
  std::fprintf(stderr,
               "usage: fitserve quantize IN.gguf OUT.gguf TYPE [--keep-odd]\n"
               "  TYPE: q8_0 q4_0 q4_1 q5_0 q5_1 q2_k q3_k q4_k q5_k q6_k iq4_nl f16 bf16 f32\n");
  return 1;
}

int cmd_quantize(int argc, char** argv) {
  std::vector<std::string> pos;
  bool keep_odd = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--keep-odd") keep_odd = true;
    else if (a == "-h" || a == "--help") { usage(); return 0; }
    else if (!a.empty() && a[0] == '-') throw core::Error("usage", "quantize: unknown option '" + a + "'");
    else pos.push_back(a);
  }
  if (pos.size() != 3) return usage();
  auto type = quant::type_from_name(pos[2]);
  if (!type || !quant::can_quantize(*type))
    throw core::Error("usage", "quantize: unknown or unsupported target type '" + pos[2] + "'", "see `fitserve quantize --help`");
  gguf::File in = gguf::File::open(pos[0]);
  gguf::Writer w;
  for (auto& kv : in.metadata()) w.set_value(kv.key, kv.value);
  const int blk = quant::type_info(*type).block;
  int n_q = 0, n_kept = 0;
  for (auto& t : in.tensors()) {
    std::vector<int64_t> ne(t.ne, t.ne + std::max(t.n_dims, 1));
    bool matrix = t.n_dims >= 2 && t.ne[1] > 1;
    quant::Type dst = t.type;
    if (matrix) {
      if (t.ne[0] % blk == 0) dst = *type;
      else if (!keep_odd) dst = quant::Type::F16;
    }
    if (dst == t.type) {
      w.add_tensor(t.name, t.type, ne, t.data, t.nbytes);
      ++n_kept;
      continue;
    }
    if (!quant::can_dequantize(t.type))
      throw core::Error("gguf", pos[0] + ": tensor '" + t.name + "' has type " + quant::type_name(t.type) + " which cannot be converted");
    const gguf::TensorInfo* tp = &t;
    w.add_tensor_fill(t.name, dst, ne, [tp, dst](uint8_t* out, size_t) {
      std::vector<float> row(static_cast<size_t>(tp->ne[0]));
      const size_t ib = tp->row_bytes(), ob = quant::row_bytes(dst, tp->ne[0]);
      for (int64_t r = 0; r < tp->n_rows(); ++r) {
        quant::dequantize_row(tp->type, tp->data + r * ib, row.data(), tp->ne[0]);
        quant::quantize_row(dst, row.data(), out + r * ob, tp->ne[0]);
      }
    });
    ++n_q;
  }
  w.write_file(pos[1]);
  std::fprintf(stderr, "quantize: %s -> %s: %d tensors converted, %d kept\n", pos[0].c_str(), pos[1].c_str(), n_q, n_kept);
  return 0;
}

}  // namespace
FITSERVE_COMMAND("quantize", "requantize a GGUF's weight matrices to another type", cmd_quantize);
}  // namespace fitserve::cli
