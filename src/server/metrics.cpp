// server/metrics.cpp — Prometheus exposition (see metrics.h).
#include "server/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace fitserve::server {

void MetricsCollector::record(const engine::Result& r) {
  std::lock_guard<std::mutex> lock(mu_);
  if (r.timings.cache_n > 0) prompt_tokens_cached_total_ += static_cast<uint64_t>(r.timings.cache_n);
  uint64_t fill = static_cast<uint64_t>(std::max(0, r.n_prompt)) + r.tokens.size();
  if (fill > n_tokens_max_) n_tokens_max_ = fill;
}

namespace {

void add(std::string& out, const char* name, const char* type, const char* help, double value) {
  char num[64];
  if (!std::isfinite(value)) value = 0;
  if (value == std::floor(value) && std::fabs(value) < 1e15)
    std::snprintf(num, sizeof num, "%.0f", value);
  else
    std::snprintf(num, sizeof num, "%.6g", value);
  out += "# HELP llamacpp:";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE llamacpp:";
  out += name;
  out += ' ';
  out += type;
  out += "\nllamacpp:";
  out += name;
  out += ' ';
  out += num;
  out += '\n';
}

}  // namespace

std::string MetricsCollector::render(const engine::Metrics& m) {
  std::lock_guard<std::mutex> lock(mu_);
  double d_prompt_tok = static_cast<double>(m.prompt_tokens_total) - static_cast<double>(last_.prompt_tokens_total);
  double d_prompt_s = m.prompt_seconds_total - last_.prompt_seconds_total;
  double d_pred_tok = static_cast<double>(m.tokens_predicted_total) - static_cast<double>(last_.tokens_predicted_total);
  double d_pred_s = m.tokens_predicted_seconds_total - last_.tokens_predicted_seconds_total;
  last_ = m;

  std::string out;
  out.reserve(4096);
  add(out, "prompt_tokens_total", "counter", "Number of prompt tokens processed.",
      static_cast<double>(m.prompt_tokens_total));
  add(out, "prompt_tokens_cached_total", "counter", "Number of prompt tokens reused from the slot cache.",
      static_cast<double>(prompt_tokens_cached_total_));
  add(out, "prompt_seconds_total", "counter", "Prompt process time", m.prompt_seconds_total);
  add(out, "tokens_predicted_total", "counter", "Number of generation tokens processed.",
      static_cast<double>(m.tokens_predicted_total));
  add(out, "tokens_predicted_seconds_total", "counter", "Predict process time", m.tokens_predicted_seconds_total);
  add(out, "n_decode_total", "counter", "Total number of llama_decode() calls",
      static_cast<double>(m.n_decode_total));
  add(out, "n_tokens_max", "counter", "Largest observed n_tokens.", static_cast<double>(n_tokens_max_));
  add(out, "spec_decode_num_draft_tokens_total", "counter", "Number of draft tokens proposed.",
      static_cast<double>(m.spec_draft_tokens_total));
  add(out, "spec_decode_num_accepted_tokens_total", "counter", "Number of draft tokens accepted.",
      static_cast<double>(m.spec_accepted_tokens_total));
  add(out, "spec_decode_num_drafts_total", "counter", "Number of drafts made.",
      static_cast<double>(m.spec_drafts_total));
  add(out, "prompt_tokens_seconds", "gauge", "Average prompt throughput in tokens/s.",
      d_prompt_s > 0 ? d_prompt_tok / d_prompt_s : 0.0);
  add(out, "predicted_tokens_seconds", "gauge", "Average generation throughput in tokens/s.",
      d_pred_s > 0 ? d_pred_tok / d_pred_s : 0.0);
  add(out, "requests_processing", "gauge", "Number of requests processing.",
      static_cast<double>(m.requests_processing));
  add(out, "requests_deferred", "gauge", "Number of requests deferred.", static_cast<double>(m.requests_deferred));
  add(out, "n_busy_slots_per_decode", "gauge", "Average number of busy slots per llama_decode() call",
      m.n_decode_total > 0 ? static_cast<double>(m.n_busy_slots_per_decode_sum) / m.n_decode_total : 0.0);
  add(out, "kv_cache_usage_ratio", "gauge", "KV-cache usage. 1 means 100 percent usage.", m.kv_cache_usage_ratio);
  add(out, "kv_cache_tokens", "gauge", "KV-cache tokens.", static_cast<double>(m.kv_cache_tokens));
  return out;
}

}  // namespace fitserve::server
