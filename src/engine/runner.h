// engine/runner.h — direct, single-sequence access to a model (no scheduler): for `logits`,
// `perplexity`, benches and tests that need every position's logits.
// Offers: Runner(RunnerOptions) loads file + model (+ tokenizer when the file has one) and a KV
// cache for one sequence; eval(tokens, all_logits) appends tokens at the current position in
// chunks of n_ubatch and returns logits (every row, or only the last) and optionally the
// post-final-norm hidden rows of the same rows (the MTP drafter's input); reset() clears the
// cache; truncate(n) forgets positions >= n (speculative rollback); cache() is the KV cache (an
// MTP assistant attends over it).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "gguf/gguf.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace fitserve::engine {

struct RunnerOptions {
  std::string model_path;
  int32_t n_ctx = 2048;
  int32_t n_threads = 0;
  int32_t n_ubatch = 512;
  std::string type_k = "f16", type_v = "f16";
};

class Runner {
 public:
  explicit Runner(const RunnerOptions& opt);
  ~Runner();
  // Evaluates tokens at positions n_past.. ; returns n x n_vocab logits (all_logits) or 1 x n_vocab.
  std::vector<float> eval(const std::vector<int32_t>& tokens, bool all_logits, std::vector<float>* hidden = nullptr);
  void reset();
  // Forgets positions >= n (n <= n_past): rejected draft tokens after a verification batch.
  void truncate(int32_t n);
  int32_t n_past() const { return n_past_; }
  int32_t n_ctx() const { return opt_.n_ctx; }
  int32_t n_vocab() const { return model_->info().n_vocab; }
  const model::Model& model() const { return *model_; }
  const kv::KvCache& cache() const { return *cache_; }
  const RunnerOptions& options() const { return opt_; }
  const gguf::File& file() const { return *file_; }
  const tokenizer::Tokenizer* tokenizer() const { return tok_.get(); }  // null if the file has none
  core::ThreadPool& pool() { return *pool_; }

 private:
  RunnerOptions opt_;
  std::unique_ptr<gguf::File> file_;
  std::unique_ptr<tokenizer::Tokenizer> tok_;
  std::unique_ptr<core::ThreadPool> pool_;
  std::unique_ptr<model::Model> model_;
  std::unique_ptr<kv::KvCache> cache_;
  int32_t n_past_ = 0;
};

quant::Type parse_kv_type(const std::string& name, const char* flag);

}  // namespace fitserve::engine
