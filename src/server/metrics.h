// server/metrics.h — the Prometheus text of GET /metrics (llama-server's metric names).
// Offers: MetricsCollector: record(Result) adds what only finished requests tell (cached prompt
// tokens, largest slot fill); render(engine::Metrics) writes every counter and gauge with
// # HELP / # TYPE lines. The rate gauges average over the window since the previous scrape,
// and a scrape starts a new window.
#pragma once
#include <cstdint>
#include <mutex>
#include <string>

#include "engine/engine.h"

namespace fitserve::server {

class MetricsCollector {
 public:
  void record(const engine::Result& r);
  std::string render(const engine::Metrics& m);

 private:
  std::mutex mu_;
  uint64_t prompt_tokens_cached_total_ = 0;
  uint64_t n_tokens_max_ = 0;
  engine::Metrics last_;  // at the previous scrape
};

}  // namespace fitserve::server
