// model/golden.cpp — golden-file readers and the log-prob comparison statistics.
#include "model/golden.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"

namespace fitserve::model::golden {
namespace {

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw core::Error("io", "cannot open golden file " + path);
  try {
    return nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    throw core::Error("io", "golden file " + path + " is not valid JSON: " + e.what());
  }
}

std::vector<int32_t> ints(const nlohmann::json& j) {
  std::vector<int32_t> v;
  for (const auto& x : j) v.push_back(x.get<int32_t>());
  return v;
}

std::vector<Position> positions(const nlohmann::json& arr) {
  std::vector<Position> out;
  for (const auto& p : arr) {
    Position q;
    q.pos = p.at("pos").get<int32_t>();
    q.token = p.at("token").get<int32_t>();
    q.lse = p.at("lse").get<double>();
    for (const auto& t : p.at("top")) q.top.push_back(Top{t.at(0).get<int32_t>(), t.at(1).get<double>()});
    out.push_back(std::move(q));
  }
  return out;
}

template <class F>
auto guarded(const std::string& path, F&& f) {
  try {
    return f();
  } catch (const core::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw core::Error("io", "golden file " + path + " has an unexpected layout: " + e.what());
  }
}

std::string fmt(const char* f, double a) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, a);
  return buf;
}

}  // namespace

Teacher load_teacher(const std::string& path) {
  const nlohmann::json j = read_json(path);
  return guarded(path, [&] {
    Teacher t;
    t.model = j.value("model", "");
    t.n_vocab = j.at("n_vocab").get<int32_t>();
    t.tokens = ints(j.at("tokens"));
    t.positions = positions(j.at("positions"));
    if (t.positions.size() != t.tokens.size())
      throw core::Error("io", "golden file " + path + ": positions and tokens differ in length");
    return t;
  });
}

Greedy load_greedy(const std::string& path) {
  const nlohmann::json j = read_json(path);
  return guarded(path, [&] {
    Greedy g;
    g.model = j.value("model", "");
    g.n_vocab = j.at("n_vocab").get<int32_t>();
    g.prompt_tokens = ints(j.at("prompt_tokens"));
    g.generated = ints(j.at("generated"));
    g.steps = positions(j.at("steps"));
    if (g.steps.size() != g.generated.size() || g.prompt_tokens.empty())
      throw core::Error("io", "golden file " + path + ": steps and generated differ in length");
    return g;
  });
}

std::vector<float> read_f32(const std::string& path, int64_t n) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw core::Error("io", "cannot open " + path);
  const int64_t bytes = static_cast<int64_t>(in.tellg());
  if (n < 0) {
    if (bytes % 4) throw core::Error("io", path + ": size " + std::to_string(bytes) + " is not a multiple of 4");
    n = bytes / 4;
  } else if (bytes != n * 4) {
    throw core::Error("io", path + ": expected " + std::to_string(n * 4) + " bytes, found " + std::to_string(bytes));
  }
  std::vector<float> v(static_cast<size_t>(n));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(v.data()), n * 4);
  if (!in) throw core::Error("io", "short read on " + path);
  return v;
}

double log_softmax(const float* row, int64_t n, std::vector<double>& out) {
  double m = -std::numeric_limits<double>::infinity();
  for (int64_t i = 0; i < n; ++i) m = std::max(m, static_cast<double>(row[i]));
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += std::exp(static_cast<double>(row[i]) - m);
  const double lse = m + std::log(s);
  out.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<double>(row[i]) - lse;
  return lse;
}

int32_t argmax(const float* row, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (row[i] > row[best]) best = i;
  return static_cast<int32_t>(best);
}

void StatsBuilder::add(double d, int64_t pos) {
  d_.push_back(std::isnan(d) ? std::numeric_limits<double>::infinity() : std::fabs(d));
  pos_.push_back(pos);
}

void StatsBuilder::add_top1(bool agree) {
  ++n_top_;
  n_agree_ += agree;
}

Stats StatsBuilder::finish() const {
  Stats s;
  s.n_pairs = static_cast<int64_t>(d_.size());
  s.n_positions = n_top_;
  s.top1 = n_top_ ? static_cast<double>(n_agree_) / static_cast<double>(n_top_) : 1.0;
  if (d_.empty()) return s;
  double sum = 0;
  size_t worst = 0;
  for (size_t i = 0; i < d_.size(); ++i) {
    sum += d_[i];
    if (d_[i] > d_[worst]) worst = i;
  }
  s.mean = sum / static_cast<double>(d_.size());
  s.max = d_[worst];
  s.worst_pos = pos_[worst];
  std::vector<double> sorted = d_;
  std::sort(sorted.begin(), sorted.end());
  const double r = 0.99 * static_cast<double>(sorted.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(r));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  s.p99 = sorted[lo] + (sorted[hi] - sorted[lo]) * (r - static_cast<double>(lo));
  return s;
}

std::string Stats::str() const {
  return "mean " + fmt("%.4f", mean) + " p99 " + fmt("%.4f", p99) + " max " + fmt("%.4f", max) + " (at pos " +
         std::to_string(worst_pos) + ") top1 " + fmt("%.3f", top1) + " (" + std::to_string(n_pairs) + " pairs, " +
         std::to_string(n_positions) + " positions)";
}

Stats compare_top(const float* logits, int64_t n_pos, int64_t n_vocab, const std::vector<Position>& golden) {
  if (static_cast<int64_t>(golden.size()) < n_pos)
    throw core::Error("io", "compare_top: golden has " + std::to_string(golden.size()) + " positions, asked for " + std::to_string(n_pos));
  StatsBuilder b;
  std::vector<double> lp;
  for (int64_t p = 0; p < n_pos; ++p) {
    const float* row = logits + p * n_vocab;
    log_softmax(row, n_vocab, lp);
    const auto& g = golden[static_cast<size_t>(p)];
    for (const auto& t : g.top) {
      if (t.id < 0 || t.id >= n_vocab) throw core::Error("io", "golden token id " + std::to_string(t.id) + " out of range");
      b.add(lp[static_cast<size_t>(t.id)] - t.logprob, p);
    }
    if (!g.top.empty()) b.add_top1(argmax(row, n_vocab) == g.top[0].id);
  }
  return b.finish();
}

Stats compare_logits(const float* ours, const float* ref, int64_t n_pos, int64_t n_vocab, int k) {
  StatsBuilder b;
  std::vector<double> lo, lr;
  std::vector<int32_t> idx(static_cast<size_t>(n_vocab));
  k = static_cast<int>(std::min<int64_t>(k, n_vocab));
  for (int64_t p = 0; p < n_pos; ++p) {
    log_softmax(ours + p * n_vocab, n_vocab, lo);
    log_softmax(ref + p * n_vocab, n_vocab, lr);
    for (int32_t i = 0; i < n_vocab; ++i) idx[static_cast<size_t>(i)] = i;
    std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int32_t a, int32_t c) {
      return lr[static_cast<size_t>(a)] > lr[static_cast<size_t>(c)] || (lr[static_cast<size_t>(a)] == lr[static_cast<size_t>(c)] && a < c);
    });
    for (int i = 0; i < k; ++i) {
      const size_t id = static_cast<size_t>(idx[static_cast<size_t>(i)]);
      b.add(lo[id] - lr[id], p);
    }
    b.add_top1(argmax(ours + p * n_vocab, n_vocab) == idx[0]);
  }
  return b.finish();
}

bool within(const Stats& s, const Band& b) {
  return s.mean <= b.mean && s.p99 <= b.p99 && (b.max < 0 || s.max <= b.max) && s.top1 >= b.top1;
}

std::string describe(const Band& b) {
  return "band mean <= " + fmt("%g", b.mean) + ", p99 <= " + fmt("%g", b.p99) +
         (b.max < 0 ? std::string(", max unbounded") : ", max <= " + fmt("%g", b.max)) + ", top1 >= " + fmt("%g", b.top1);
}

std::string GreedyReport::str() const {
  std::string r = std::to_string(steps_compared) + " steps compared, " + stats.str();
  if (diverged_at >= 0)
    r += "; diverged at step " + std::to_string(diverged_at) + (near_tie ? " (near-tie, gap " : " (NOT a near-tie, gap ") + fmt("%.4f", tie_gap) + ")";
  return r;
}

GreedyReport follow_greedy(const Greedy& g, const DecodeFn& decode, const Band& band) {
  GreedyReport rep;
  StatsBuilder b;
  std::vector<double> lp;
  const int32_t n_vocab = g.n_vocab;
  std::vector<float> logits = decode(g.prompt_tokens, 0);
  int32_t pos = static_cast<int32_t>(g.prompt_tokens.size());
  bool tie_ok = true;
  for (size_t k = 0; k < g.steps.size(); ++k) {
    if (static_cast<int64_t>(logits.size()) != n_vocab)
      throw core::Error("io", "follow_greedy: decode returned " + std::to_string(logits.size()) + " logits, expected " + std::to_string(n_vocab));
    const Position& gs = g.steps[k];
    log_softmax(logits.data(), n_vocab, lp);
    for (const auto& t : gs.top) b.add(lp[static_cast<size_t>(t.id)] - t.logprob, static_cast<int64_t>(k));
    const int32_t ours = argmax(logits.data(), n_vocab);
    b.add_top1(ours == g.generated[k]);
    ++rep.steps_compared;
    if (ours != g.generated[k]) {
      rep.diverged_at = static_cast<int32_t>(k);
      double glp = -std::numeric_limits<double>::infinity();
      for (const auto& t : gs.top)
        if (t.id == ours) glp = t.logprob;
      rep.tie_gap = gs.top.empty() ? std::numeric_limits<double>::infinity() : gs.top[0].logprob - glp;
      rep.near_tie = rep.tie_gap <= (band.max >= 0 ? band.max : band.p99);
      tie_ok = rep.near_tie;
      break;
    }
    if (k + 1 == g.steps.size()) break;
    logits = decode({g.generated[k]}, pos);
    ++pos;
  }
  rep.stats = b.finish();
  // top-1 agreement is implied by the token comparison above; judge the log-prob statistics.
  Band b2 = band;
  b2.top1 = 0;
  rep.ok = tie_ok && within(rep.stats, b2);
  return rep;
}

}  // namespace fitserve::model::golden
