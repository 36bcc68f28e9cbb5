// server/metrics_test.cpp — Prometheus text of /metrics.
#include "server/metrics.h"

#include <gtest/gtest.h>

#include <sstream>

using namespace fitserve;
using namespace fitserve::server;

namespace {
double value_of(const std::string& text, const std::string& name) {
  std::istringstream in(text);
  std::string line;
  std::string key = "llamacpp:" + name + " ";
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) return std::stod(line.substr(key.size()));
  ADD_FAILURE() << "no metric " << name;
  return -1;
}
}  // namespace

TEST(Metrics, AllNamesWithHelpAndType) {
  MetricsCollector mc;
  std::string t = mc.render(engine::Metrics{});
  for (const char* n : {"prompt_tokens_total", "prompt_tokens_cached_total", "prompt_seconds_total",
                        "tokens_predicted_total", "tokens_predicted_seconds_total", "n_decode_total", "n_tokens_max",
                        "prompt_tokens_seconds", "predicted_tokens_seconds", "requests_processing",
                        "requests_deferred", "n_busy_slots_per_decode"}) {
    EXPECT_NE(t.find(std::string("# HELP llamacpp:") + n + " "), std::string::npos) << n;
    EXPECT_NE(t.find(std::string("# TYPE llamacpp:") + n + " "), std::string::npos) << n;
  }
  EXPECT_NE(t.find("# TYPE llamacpp:prompt_tokens_total counter"), std::string::npos);
  EXPECT_NE(t.find("# TYPE llamacpp:requests_processing gauge"), std::string::npos);
}

TEST(Metrics, CountersAndWindowedRates) {
  MetricsCollector mc;
  engine::Result r;
  r.n_prompt = 10;
  r.tokens = {1, 2, 3};
  r.timings.cache_n = 4;
  mc.record(r);
  engine::Metrics m;
  m.prompt_tokens_total = 100;
  m.prompt_seconds_total = 2;
  m.tokens_predicted_total = 50;
  m.tokens_predicted_seconds_total = 5;
  m.n_decode_total = 10;
  m.n_busy_slots_per_decode_sum = 25;
  m.requests_processing = 1;
  m.spec_drafts_total = 6;
  m.spec_draft_tokens_total = 17;
  m.spec_accepted_tokens_total = 9;
  std::string t = mc.render(m);
  EXPECT_EQ(value_of(t, "spec_decode_num_drafts_total"), 6);
  EXPECT_EQ(value_of(t, "spec_decode_num_draft_tokens_total"), 17);
  EXPECT_EQ(value_of(t, "spec_decode_num_accepted_tokens_total"), 9);
  EXPECT_EQ(value_of(t, "prompt_tokens_total"), 100);
  EXPECT_EQ(value_of(t, "prompt_tokens_cached_total"), 4);
  EXPECT_EQ(value_of(t, "n_tokens_max"), 13);
  EXPECT_EQ(value_of(t, "prompt_tokens_seconds"), 50);
  EXPECT_EQ(value_of(t, "predicted_tokens_seconds"), 10);
  EXPECT_DOUBLE_EQ(value_of(t, "n_busy_slots_per_decode"), 2.5);
  EXPECT_EQ(value_of(t, "requests_processing"), 1);
  // A scrape starts a new window: no new work -> rate 0; counters stay.
  t = mc.render(m);
  EXPECT_EQ(value_of(t, "prompt_tokens_seconds"), 0);
  EXPECT_EQ(value_of(t, "prompt_tokens_total"), 100);
  m.tokens_predicted_total = 70;
  m.tokens_predicted_seconds_total = 6;
  t = mc.render(m);
  EXPECT_EQ(value_of(t, "predicted_tokens_seconds"), 20);
}
