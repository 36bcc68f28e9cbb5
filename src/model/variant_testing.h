// model/variant_testing.h — for tests: writes an edited copy of a GGUF file, to check that a
// loader refuses bad metadata, missing tensors or wrong shapes with a clear error.
// Offers: write_variant(src, name, meta, drop, reshape, hook) → path of the copy in the temp dir
// (the caller removes it): metadata copied then edited by `meta`, tensor `drop` left out, the
// first two dims of tensor `reshape` swapped, and `hook` may replace any tensor (it returns true
// when it wrote the replacement itself, or wants the tensor dropped).
#pragma once
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "gguf/gguf.h"

namespace fitserve::model::testing {

using TensorHook = std::function<bool(const gguf::File&, const gguf::TensorInfo&, gguf::Writer&)>;

inline std::string write_variant(const std::string& src, const std::string& name,
                                 const std::function<void(gguf::Writer&)>& meta,
                                 const std::string& drop = {}, const std::string& reshape = {},
                                 const TensorHook& hook = {}) {
  auto f = gguf::File::open(src);
  gguf::Writer w;
  for (const auto& kv : f.metadata())
    if (kv.key != "general.alignment") w.set_value(kv.key, kv.value);
  meta(w);
  for (const auto& ti : f.tensors()) {
    if (ti.name == drop) continue;
    if (hook && hook(f, ti, w)) continue;
    std::vector<int64_t> ne(ti.ne, ti.ne + std::max(1, ti.n_dims));
    if (ti.name == reshape) std::swap(ne[0], ne[1]);
    w.add_tensor(ti.name, ti.type, ne, ti.data, ti.nbytes);
  }
  const std::string stem = std::filesystem::path(src).stem().string();
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("fitserve_" + stem + "_" + name + "_" + std::to_string(::getpid()) + ".gguf"))
                               .string();
  w.write_file(path);
  return path;
}

}  // namespace fitserve::model::testing
