// sampling/sampler.h — turning logits into the next token.
// Offers: SamplingParams (llama-server names and defaults), Sampler (penalties -> top-k ->
// top-p -> min-p -> temperature -> seeded draw; temperature <= 0 is greedy, ties to the lower id),
// and log_softmax_top() for logprobs. Deterministic for a given seed and history. A Sampler
// allocates its work buffers once (n_vocab) and nothing per token.
#pragma once
#include <cstdint>
#include <random>
#include <utility>
#include <vector>

namespace fitserve::sampling {

struct SamplingParams {
  float temperature = 0.8f;
  int32_t top_k = 40;             // <= 0: off
  float top_p = 0.95f;            // >= 1: off
  float min_p = 0.05f;            // <= 0: off
  float repeat_penalty = 1.0f;    // 1: off
  int32_t repeat_last_n = 64;     // window of recent tokens for penalties; -1 = whole history
  float frequency_penalty = 0.0f;
  float presence_penalty = 0.0f;
  uint64_t seed = 0xFFFFFFFFu;    // 0xFFFFFFFF (LLAMA_DEFAULT_SEED) = random seed
  bool greedy() const { return temperature <= 0.0f; }
};

class Sampler {
 public:
  Sampler(const SamplingParams& p, int32_t n_vocab);
  // Samples from raw logits (not modified). History is what accept() recorded.
  int32_t sample(const float* logits);
  void accept(int32_t token);
  void reset();  // clears history and re-seeds
  const SamplingParams& params() const { return p_; }
  uint64_t seed() const { return seed_; }

 private:
  SamplingParams p_;
  int32_t n_vocab_;
  uint64_t seed_;
  std::mt19937_64 rng_;
  std::vector<int32_t> history_;
  std::vector<std::pair<float, int32_t>> cand_;  // (logit, id)
  std::vector<int32_t> counts_;
};

// Greedy argmax with ties to the lower id.
int32_t argmax(const float* logits, int32_t n);
// The k most likely ids with their log-probabilities under softmax(logits), best first.
std::vector<std::pair<int32_t, float>> log_softmax_top(const float* logits, int32_t n, int32_t k,
                                                       float* log_sum_exp = nullptr);

}  // namespace fitserve::sampling
