#include "engine/runner.h"

#include <algorithm>

#include "core/error.h"

namespace fitserve::engine {

quant::Type parse_kv_type(const std::string& s, const char* flag) {
  auto t = quant::type_from_name(s);
  using quant::Type;
  if (!t || !(*t == Type::F32 || *t == Type::F16 || *t == Type::BF16 || *t == Type::Q8_0 || *t == Type::Q4_0))
    throw core::Error("usage", std::string("unknown KV cache type '") + s + "' for " + flag,
                      "use one of f32, f16, bf16, q8_0, q4_0");
  return *t;
}

Runner::Runner(const RunnerOptions& opt) : opt_(opt) {
  file_ = std::make_unique<gguf::File>(gguf::File::open(opt.model_path));
  auto tk = parse_kv_type(opt.type_k, "-ctk"), tv = parse_kv_type(opt.type_v, "-ctv");
  pool_ = std::make_unique<core::ThreadPool>(opt.n_threads);
  model_ = model::load_model(*file_);
  auto tm = file_->get_string("tokenizer.ggml.model");
  if (tm && *tm != "none" && file_->has("tokenizer.ggml.tokens"))
    tok_ = std::make_unique<tokenizer::Tokenizer>(tokenizer::Tokenizer::from_gguf(*file_));
  if (opt_.n_ctx <= 0) opt_.n_ctx = model_->info().n_ctx_train;
  if (opt_.n_ubatch < 1) throw core::Error("usage", "-ub must be >= 1");
  cache_ = std::make_unique<kv::KvCache>(model_->kv_config(opt_.n_ctx, 1, tk, tv, opt_.n_ubatch));
}

Runner::~Runner() = default;

void Runner::reset() {
  cache_->clear(0);
  n_past_ = 0;
}

void Runner::truncate(int32_t n) {
  if (n < 0 || n > n_past_)
    throw core::Error("request", "cannot truncate to " + std::to_string(n) + " tokens: " + std::to_string(n_past_) + " are in the cache");
  if (n < cache_->min_query_pos(0))
    throw core::Error("request", "cannot roll back to position " + std::to_string(n) + ": the sliding-window cache no longer holds its window");
  cache_->remove(0, n);
  n_past_ = n;
}

std::vector<float> Runner::eval(const std::vector<int32_t>& tokens, bool all_logits, std::vector<float>* hidden) {
  const int32_t nv = n_vocab();
  if (n_past_ + static_cast<int64_t>(tokens.size()) > opt_.n_ctx)
    throw core::Error("request",
                      "the input (" + std::to_string(tokens.size()) + " tokens after " + std::to_string(n_past_) +
                          ") does not fit the context of " + std::to_string(opt_.n_ctx) + " tokens",
                      "raise -c or shorten the prompt");
  std::vector<float> out;
  out.reserve(all_logits ? tokens.size() * size_t(nv) : size_t(nv));
  const int32_t E = model_->info().n_embd;
  model::Batch b;
  std::vector<float> buf, hbuf;
  for (size_t i = 0; i < tokens.size(); i += size_t(opt_.n_ubatch)) {
    size_t n = std::min(tokens.size() - i, size_t(opt_.n_ubatch));
    b.clear();
    for (size_t j = 0; j < n; ++j) {
      bool want = all_logits || (i + j + 1 == tokens.size());
      b.add(tokens[i + j], n_past_ + int32_t(j), 0, want);
    }
    size_t n_out = b.n_outputs();
    buf.resize(n_out * size_t(nv));
    if (hidden) hbuf.resize(n_out * size_t(E));
    model_->forward(b, *cache_, *pool_, buf.data(), hidden ? hbuf.data() : nullptr);
    out.insert(out.end(), buf.begin(), buf.end());
    if (hidden) hidden->insert(hidden->end(), hbuf.begin(), hbuf.end());
    n_past_ += int32_t(n);
  }
  return out;
}

}  // namespace fitserve::engine
