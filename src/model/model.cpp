#include "model/model.h"

#include "core/error.h"
#include "model/arch.h"

namespace fitserve::model {

size_t Batch::n_outputs() const {
  size_t n = 0;
  for (auto o : output) n += o != 0;
  return n;
}
void Batch::clear() {
  tokens.clear();
  pos.clear();
  seq.clear();
  output.clear();
  bidir.clear();
  embd = nullptr;
}
void Batch::add(int32_t token, int32_t p, int32_t s, bool want) {
  tokens.push_back(token);
  pos.push_back(p);
  seq.push_back(s);
  output.push_back(want ? 1 : 0);
}

std::vector<SeqRun> seq_runs(const Batch& b) {
  std::vector<SeqRun> runs;
  const int64_t n = static_cast<int64_t>(b.size());
  if (b.seq.size() != b.pos.size() || b.output.size() != b.pos.size() || (!b.embd && b.tokens.size() != b.pos.size()))
    throw core::Error("request", "malformed batch: field lengths differ");
  for (int64_t i = 0; i < n; ++i) {
    if (!runs.empty() && runs.back().seq == b.seq[i] && runs.back().pos0 + runs.back().n == b.pos[i]) {
      runs.back().n++;
      continue;
    }
    for (auto& r : runs)
      if (r.seq == b.seq[i])
        throw core::Error("request", "malformed batch: rows of sequence " + std::to_string(b.seq[i]) + " are not contiguous with consecutive positions");
    runs.push_back(SeqRun{b.seq[i], b.pos[i], i, 1});
  }
  return runs;
}

void reserve_runs(const std::vector<SeqRun>& runs, kv::KvCache& cache) {
  for (auto& r : runs) cache.reserve(r.seq, r.pos0, static_cast<int32_t>(r.n));
}

std::unique_ptr<Model> load_model(const gguf::File& file, const LoadOptions&) {
  const std::string arch = file.architecture();
  if (arch == "llama") return make_llama(file);
  if (arch == "gemma4") return make_gemma4(file);
  if (arch.empty())
    throw core::Error("model", file.path() + ": no general.architecture key: not a model file");
  if (arch == "gemma4-assistant")
    throw core::Error("model", file.path() + ": this is a Gemma 4 MTP assistant (drafter), not a text model",
                      "give the target model with -m and this file with -md");
  if (arch == "clip")
    throw core::Error("model", file.path() + ": this is a vision projector (mmproj), not a text model",
                      "pass it with --mmproj and give the text model with -m");
  throw core::Error("model", file.path() + ": unsupported model architecture '" + arch + "'",
                    "fitserve supports: llama, gemma4");
}

}  // namespace fitserve::model
