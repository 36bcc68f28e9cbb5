#include "sampling/sampler.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

namespace fitserve::sampling {

int32_t argmax(const float* logits, int32_t n) {
  int32_t best = 0;
  for (int32_t i = 1; i < n; ++i)
    if (logits[i] > logits[best]) best = i;
  return best;
}

std::vector<std::pair<int32_t, float>> log_softmax_top(const float* logits, int32_t n, int32_t k, float* lse_out) {
  double mx = -std::numeric_limits<double>::infinity();
  for (int32_t i = 0; i < n; ++i) mx = std::max<double>(mx, logits[i]);
  double s = 0;
  for (int32_t i = 0; i < n; ++i) s += std::exp(double(logits[i]) - mx);
  const double lse = mx + std::log(s);
  if (lse_out) *lse_out = float(lse);
  k = std::max<int32_t>(0, std::min(k, n));
  std::vector<int32_t> idx(static_cast<size_t>(n));
  for (int32_t i = 0; i < n; ++i) idx[i] = i;
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int32_t a, int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  });
  std::vector<std::pair<int32_t, float>> out;
  out.reserve(static_cast<size_t>(k));
  for (int32_t i = 0; i < k; ++i) out.emplace_back(idx[i], float(double(logits[idx[i]]) - lse));
  return out;
}

static uint64_t pick_seed(uint64_t s) {
  if (s != 0xFFFFFFFFu) return s;
  return static_cast<uint64_t>(std::chrono::high_resolution_clock::now().time_since_epoch().count()) ^ 0x9E3779B97F4A7C15ull;
}

Sampler::Sampler(const SamplingParams& p, int32_t n_vocab)
    : p_(p), n_vocab_(n_vocab), seed_(pick_seed(p.seed)), rng_(seed_) {
  cand_.reserve(static_cast<size_t>(n_vocab));
  counts_.assign(static_cast<size_t>(n_vocab), 0);
}

void Sampler::reset() {
  history_.clear();
  rng_.seed(seed_);
}

void Sampler::accept(int32_t token) { history_.push_back(token); }

int32_t Sampler::sample(const float* logits) {
  const bool penalties = p_.repeat_penalty != 1.0f || p_.frequency_penalty != 0.0f || p_.presence_penalty != 0.0f;
  if (p_.greedy() && !penalties) return argmax(logits, n_vocab_);

  cand_.clear();
  for (int32_t i = 0; i < n_vocab_; ++i) cand_.emplace_back(logits[i], i);

  if (penalties && !history_.empty()) {
    size_t n = history_.size();
    size_t start = (p_.repeat_last_n < 0 || size_t(p_.repeat_last_n) >= n) ? 0 : n - size_t(p_.repeat_last_n);
    if (p_.repeat_last_n == 0) start = n;
    for (size_t i = start; i < n; ++i)
      if (history_[i] >= 0 && history_[i] < n_vocab_) counts_[history_[i]]++;
    for (size_t i = start; i < n; ++i) {
      int32_t t = history_[i];
      if (t < 0 || t >= n_vocab_ || counts_[t] == 0) continue;
      float& l = cand_[t].first;
      if (l <= 0) l *= p_.repeat_penalty;
      else l /= p_.repeat_penalty;
      l -= float(counts_[t]) * p_.frequency_penalty + p_.presence_penalty;
      counts_[t] = 0;  // apply once per distinct token
    }
  }
  if (p_.greedy()) {
    int32_t best = 0;
    for (int32_t i = 1; i < n_vocab_; ++i)
      if (cand_[i].first > cand_[best].first) best = i;
    return best;
  }
  auto by_logit = [](const std::pair<float, int32_t>& a, const std::pair<float, int32_t>& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  };
  size_t n = cand_.size();
  if (p_.top_k > 0 && size_t(p_.top_k) < n) {
    std::partial_sort(cand_.begin(), cand_.begin() + p_.top_k, cand_.end(), by_logit);
    n = size_t(p_.top_k);
  } else {
    std::sort(cand_.begin(), cand_.end(), by_logit);
  }
  cand_.resize(n);
  // softmax over the survivors (temperature is applied last, after the truncations, as the
  // reference chain does: top-p/min-p see the untempered distribution)
  auto probs = [&](std::vector<double>& pr, float temp) {
    pr.resize(cand_.size());
    double mx = cand_[0].first / temp, s = 0;
    for (size_t i = 0; i < cand_.size(); ++i) s += (pr[i] = std::exp(cand_[i].first / temp - mx));
    for (auto& x : pr) x /= s;
  };
  std::vector<double> pr;
  if (p_.top_p < 1.0f) {
    probs(pr, 1.0f);
    double cum = 0;
    size_t keep = cand_.size();
    for (size_t i = 0; i < cand_.size(); ++i) {
      cum += pr[i];
      if (cum >= p_.top_p) { keep = i + 1; break; }
    }
    cand_.resize(std::max<size_t>(1, keep));
  }
  if (p_.min_p > 0.0f) {
    const float thr = cand_[0].first + std::log(p_.min_p);
    size_t keep = 1;
    while (keep < cand_.size() && cand_[keep].first >= thr) ++keep;
    cand_.resize(keep);
  }
  probs(pr, p_.temperature);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  double r = u(rng_), cum = 0;
  for (size_t i = 0; i < pr.size(); ++i) {
    cum += pr[i];
    if (r < cum) return cand_[i].second;
  }
  return cand_.back().second;
}

}  // namespace fitserve::sampling
