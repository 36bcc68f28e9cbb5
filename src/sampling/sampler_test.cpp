#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>

#include "sampling/sampler.h"

using namespace fitserve::sampling;

static std::vector<float> random_logits(int n, uint64_t seed) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(0, 2);
  std::vector<float> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

TEST(Sampler, GreedyTiesToLowerId) {
  std::vector<float> l = {1, 5, 5, 2};
  SamplingParams p;
  p.temperature = 0;
  Sampler s(p, 4);
  EXPECT_EQ(s.sample(l.data()), 1);
  EXPECT_EQ(argmax(l.data(), 4), 1);
}

TEST(Sampler, SameSeedSameTokens) {
  auto l = random_logits(1000, 1);
  SamplingParams p;
  p.temperature = 1.0f;
  p.seed = 42;
  Sampler a(p, 1000), b(p, 1000);
  for (int i = 0; i < 50; ++i) {
    int x = a.sample(l.data()), y = b.sample(l.data());
    ASSERT_EQ(x, y);
    a.accept(x);
    b.accept(y);
  }
  p.seed = 43;
  Sampler c(p, 1000);
  int diff = 0;
  a.reset();
  for (int i = 0; i < 50; ++i) diff += a.sample(l.data()) != c.sample(l.data());
  EXPECT_GT(diff, 0);
}

TEST(Sampler, TopKRestrictsToKBest) {
  auto l = random_logits(500, 2);
  SamplingParams p;
  p.temperature = 5.0f;
  p.top_k = 3;
  p.top_p = 1.0f;
  p.min_p = 0;
  p.seed = 7;
  Sampler s(p, 500);
  auto top = log_softmax_top(l.data(), 500, 3);
  for (int i = 0; i < 200; ++i) {
    int t = s.sample(l.data());
    EXPECT_TRUE(t == top[0].first || t == top[1].first || t == top[2].first);
  }
}

TEST(Sampler, TopPAndMinP) {
  std::vector<float> l = {std::log(0.5f), std::log(0.3f), std::log(0.15f), std::log(0.05f)};
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 0.7f;  // keeps ids 0,1
  p.min_p = 0;
  p.seed = 3;
  Sampler s(p, 4);
  std::map<int, int> seen;
  for (int i = 0; i < 2000; ++i) seen[s.sample(l.data())]++;
  EXPECT_EQ(seen.count(2) + seen.count(3), 0u);
  EXPECT_NEAR(seen[0] / 2000.0, 0.5 / 0.8, 0.05);
  p.top_p = 1.0f;
  p.min_p = 0.5f;  // threshold 0.25: keeps 0 (0.5), 1 (0.3)
  Sampler m(p, 4);
  seen.clear();
  for (int i = 0; i < 2000; ++i) seen[m.sample(l.data())]++;
  EXPECT_EQ(seen.count(2) + seen.count(3), 0u);
}

TEST(Sampler, PenaltiesDemoteRepeatedTokens) {
  std::vector<float> l = {3.0f, 2.9f, 0.0f};
  SamplingParams p;
  p.temperature = 0;
  p.repeat_penalty = 1.5f;
  Sampler s(p, 3);
  EXPECT_EQ(s.sample(l.data()), 0);
  s.accept(0);
  EXPECT_EQ(s.sample(l.data()), 1);  // 3/1.5 = 2 < 2.9
  SamplingParams q;
  q.temperature = 0;
  q.presence_penalty = 0.05f;
  q.frequency_penalty = 0.1f;
  Sampler f(q, 3);
  f.accept(0);
  EXPECT_EQ(f.sample(l.data()), 1);  // 3 - 0.1 - 0.05 < 2.9
}

TEST(Sampler, LogSoftmaxTopIsNormalised) {
  auto l = random_logits(100, 5);
  float lse;
  auto top = log_softmax_top(l.data(), 100, 100, &lse);
  double s = 0;
  for (auto& [id, lp] : top) s += std::exp(double(lp));
  EXPECT_NEAR(s, 1.0, 1e-5);
  EXPECT_GE(top[0].second, top[1].second);
}
