// libFuzzer target: the GGUF reader must refuse any malformed input with core::Error.
#include <cstdint>
#include <vector>

#include "core/error.h"
#include "gguf/gguf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<uint8_t> bytes(data, data + size);
  try {
    auto f = fitserve::gguf::File::parse(fitserve::core::MappedFile::from_bytes(std::move(bytes), "fuzz.gguf"));
    // Touch everything the reader exposes.
    for (auto& kv : f.metadata()) (void)kv.value.to_display(4);
    uint64_t sum = 0;
    for (auto& t : f.tensors())
      if (t.data && t.nbytes) sum += t.data[0] + t.data[t.nbytes - 1];
    (void)sum;
  } catch (const fitserve::core::Error&) {
  }
  return 0;
}
