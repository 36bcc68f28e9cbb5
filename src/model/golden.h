// model/golden.h — reading the reference's golden outputs and measuring how close a forward pass is.
// Offers (for model tests; architecture-independent):
//   load_teacher(path) / load_greedy(path)  the "g4gold/1" JSON files (*.teacher.json,
//                                           *.greedy.json): token ids, per-position top-k
//                                           log-probs (+ logsumexp) of the reference
//   read_f32(path, n)                       a raw little-endian float32 file (*.logits.f32, dumps)
//   log_softmax(row, n)                     log-probabilities of one logit row (double accumulation)
//   compare_top(logits, n_pos, n_vocab, golden positions)
//                                           |Δ log-prob| over the golden's top-k ids at every
//                                           position → mean / p99 / max, top-1 agreement
//   compare_logits(ours, ref, n_pos, n_vocab, k)
//                                           the same metric against a full reference logit array
//                                           (its own top-k per position)
//   Band / within(stats, band)              acceptance bands ("Tolerances" in testdata/README.md)
//   follow_greedy(greedy, decode, band)     step-by-step greedy check with the near-tie rule
// All failures to read a file throw core::Error("io") naming it.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace fitserve::model::golden {

struct Top {
  int32_t id = 0;
  double logprob = 0;
};

// One position of a golden run: the distribution of the token after `token` at `pos`.
struct Position {
  int32_t pos = 0, token = 0;
  double lse = 0;         // logsumexp of the raw logits (raw logit = logprob + lse)
  std::vector<Top> top;   // best first
};

struct Teacher {
  std::string model;
  int32_t n_vocab = 0;
  std::vector<int32_t> tokens;
  std::vector<Position> positions;  // one per token
};

struct Greedy {
  std::string model;
  int32_t n_vocab = 0;
  std::vector<int32_t> prompt_tokens;
  std::vector<int32_t> generated;
  std::vector<Position> steps;  // step k: distribution at position prompt.size()-1+k
};

Teacher load_teacher(const std::string& path);
Greedy load_greedy(const std::string& path);

// Reads exactly n floats (n < 0: the whole file, which must be a multiple of 4 bytes).
std::vector<float> read_f32(const std::string& path, int64_t n = -1);

// out[i] = row[i] − logsumexp(row). Returns the logsumexp.
double log_softmax(const float* row, int64_t n, std::vector<double>& out);
// Index of the largest value (ties → lower index, as the reference's greedy sampler).
int32_t argmax(const float* row, int64_t n);

struct Stats {
  double mean = 0, p99 = 0, max = 0;  // of |Δ log-prob| over all compared (position, id) pairs
  double top1 = 0;                    // fraction of positions whose argmax equals the reference's
  int64_t n_pairs = 0, n_positions = 0;
  int64_t worst_pos = -1;             // position of the max
  std::string str() const;            // "mean 0.0061 p99 0.0234 max 0.0322 top1 1.000 (1600 pairs)"
};

// Accumulates |Δ| values and top-1 hits; finish() computes the statistics (p99 as NumPy's
// default linear-interpolated percentile).
class StatsBuilder {
 public:
  void add(double abs_delta, int64_t pos);
  void add_top1(bool agree);
  Stats finish() const;

 private:
  std::vector<double> d_;
  std::vector<int64_t> pos_;
  int64_t n_top_ = 0, n_agree_ = 0;
};

// logits: n_pos rows of n_vocab raw logits (engine output); golden: n_pos positions.
Stats compare_top(const float* logits, int64_t n_pos, int64_t n_vocab,
                  const std::vector<Position>& golden);
// Reference = full logit rows; compares the log-probs of the reference's top-k ids per row.
Stats compare_logits(const float* ours, const float* ref, int64_t n_pos, int64_t n_vocab, int k = 20);

struct Band {
  double mean, p99, max, top1;  // max < 0: no bound on the maximum
};
bool within(const Stats& s, const Band& b);
std::string describe(const Band& b);

// Greedy check. decode(tokens, pos0) runs tokens at positions pos0.. (continuing the same
// sequence) and returns the raw logits of the last one (n_vocab floats). It is called once with
// the prompt, then once per generated token. While the engine's argmax equals the golden token,
// each step's top-k log-probs are compared within `band` (accumulated into `stats`); at the first
// different argmax the step is accepted only if the golden log-prob of the engine's token is
// within band.max (or band.p99 when max < 0) of the golden top-1 (a near-tie), and the
// comparison stops there.
struct GreedyReport {
  int32_t steps_compared = 0;
  int32_t diverged_at = -1;      // step of the first different token, -1 if none
  bool near_tie = false;         // the divergence was a near-tie
  double tie_gap = 0;            // golden top-1 log-prob minus golden log-prob of our token
  Stats stats;
  bool ok = false;               // stats within band and any divergence a near-tie
  std::string str() const;
};
using DecodeFn = std::function<std::vector<float>(const std::vector<int32_t>& tokens, int32_t pos0)>;
GreedyReport follow_greedy(const Greedy& g, const DecodeFn& decode, const Band& band);

}  // namespace fitserve::model::golden
