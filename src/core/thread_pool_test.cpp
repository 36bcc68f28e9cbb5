// Tests for core::ThreadPool: coverage of indices, barriers, exceptions, nesting, latency.
#include "core/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <thread>
#include <vector>

using fitserve::core::ThreadPool;

TEST(ThreadPool, DefaultThreadsIsPositiveAndBounded) {
  const int n = fitserve::core::default_threads();
  EXPECT_GE(n, 1);
  const unsigned hw = std::thread::hardware_concurrency();
  if (hw > 0) {
    EXPECT_LE(n, static_cast<int>(hw));
  }
}

TEST(ThreadPool, RunCallsEveryThreadOnce) {
  for (int n : {1, 2, 3, 5}) {
    ThreadPool pool(n);
    ASSERT_EQ(pool.size(), n);
    for (int rep = 0; rep < 50; ++rep) {
      std::vector<std::atomic<int>> hits(n);
      pool.run([&](int ith, int nth) {
        EXPECT_EQ(nth, n);
        hits[ith].fetch_add(1);
      });
      for (int i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << "n=" << n << " ith=" << i;
    }
  }
}

TEST(ThreadPool, ParallelForCoversEachIndexOnce) {
  ThreadPool pool(4);
  for (int64_t n : {0, 1, 3, 4, 7, 1000}) {
    std::vector<std::atomic<int>> seen(static_cast<size_t>(n));
    pool.parallel_for(n, [&](int64_t i) { seen[static_cast<size_t>(i)].fetch_add(1); });
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(seen[static_cast<size_t>(i)].load(), 1);
  }
}

TEST(ThreadPool, ParallelForRangeCoversEachIndexOnce) {
  ThreadPool pool(3);
  for (int64_t grain : {1, 7, 64, 5000}) {
    const int64_t n = 1001;
    std::vector<std::atomic<int>> seen(n);
    pool.parallel_for_range(n, grain, [&](int64_t b, int64_t e) {
      ASSERT_LT(b, e);
      ASSERT_LE(e - b, grain);
      for (int64_t i = b; i < e; ++i) seen[static_cast<size_t>(i)].fetch_add(1);
    });
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(seen[static_cast<size_t>(i)].load(), 1);
  }
}

TEST(ThreadPool, BarrierOrdersPhases) {
  ThreadPool pool(4);
  std::vector<int> a(4, 0), b(4, 0);
  for (int rep = 0; rep < 200; ++rep) {
    pool.run_team([&](int ith, int nth) {
      a[ith] = rep + ith;
      pool.barrier(ith);
      // After the barrier every thread sees all writes of phase 1.
      int s = 0;
      for (int j = 0; j < nth; ++j) s += a[j];
      b[ith] = s;
      pool.barrier(ith);
    });
    for (int i = 0; i < 4; ++i) ASSERT_EQ(b[i], 4 * rep + 6);
  }
}

TEST(ThreadPool, ExceptionIsRethrownInCaller) {
  ThreadPool pool(3);
  EXPECT_THROW(pool.run([](int ith, int) {
    if (ith == 2) throw std::runtime_error("boom");
  }),
               std::runtime_error);
  // The pool still works afterwards.
  std::atomic<int> count{0};
  pool.run([&](int, int) { count++; });
  EXPECT_EQ(count.load(), 3);
}

TEST(ThreadPool, ExceptionBeforeBarrierDoesNotDeadlock) {
  ThreadPool pool(3);
  for (int rep = 0; rep < 20; ++rep) {
    try {
      pool.run_team([&](int ith, int) {
        if (ith == rep % 3) throw std::runtime_error("early");
        pool.barrier(ith);
        pool.barrier(ith);
      });
      FAIL() << "expected an exception";
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "early");
    }
  }
  std::vector<int> a(3, 0);  // barriers work normally afterwards
  pool.run_team([&](int ith, int nth) {
    a[ith] = 1;
    pool.barrier(ith);
    int s = 0;
    for (int j = 0; j < nth; ++j) s += a[j];
    EXPECT_EQ(s, 3);
  });
}

TEST(ThreadPool, TeamRunsSlotOnItsOwnThreadAndBarrierNeedsATeam) {
  ThreadPool pool(3);
  std::vector<std::thread::id> ids(3);
  pool.run_team([&](int ith, int) { ids[ith] = std::this_thread::get_id(); });
  EXPECT_EQ(ids[0], std::this_thread::get_id());
  EXPECT_NE(ids[1], ids[0]);
  EXPECT_NE(ids[2], ids[0]);
  EXPECT_NE(ids[2], ids[1]);
  EXPECT_THROW(pool.run([&](int ith, int) { pool.barrier(ith); }), std::logic_error);
}

TEST(ThreadPool, StalledWorkerDoesNotStallTheJob) {
  // More threads than this machine has cores, each slot sleeping a little: slots are claimed by
  // whoever is free, so every run still executes every slot exactly once.
  ThreadPool pool(8, /*spin_us=*/0);
  for (int rep = 0; rep < 20; ++rep) {
    std::vector<std::atomic<int>> hits(8);
    pool.run([&](int ith, int nth) {
      EXPECT_EQ(nth, 8);
      hits[ith]++;
      if (ith == rep % 8) std::this_thread::sleep_for(std::chrono::microseconds(200));
    });
    for (int i = 0; i < 8; ++i) ASSERT_EQ(hits[i].load(), 1) << "rep " << rep << " slot " << i;
  }
}

TEST(ThreadPool, NestedRunExecutesInline) {
  ThreadPool pool(3);
  std::atomic<int> inner{0};
  pool.run([&](int, int) {
    pool.run([&](int ith, int nth) {
      EXPECT_EQ(ith, 0);
      EXPECT_EQ(nth, 1);
      inner++;
    });
  });
  EXPECT_EQ(inner.load(), 3);
}

TEST(ThreadPool, WorkersWakeAfterSleeping) {
  ThreadPool pool(3, /*spin_us=*/0);  // no spinning: every dispatch goes through the futex
  for (int rep = 0; rep < 20; ++rep) {
    std::atomic<int> count{0};
    pool.run([&](int, int) { count++; });
    ASSERT_EQ(count.load(), 3);
    if (rep % 5 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

TEST(ThreadPool, DispatchLatency) {
  // Prints the figure; asserts only that every run() executed on every thread (a wall-clock
  // bound would be flaky on a shared, oversubscribed machine).
  const int n = std::min(2, fitserve::core::default_threads());
  ThreadPool pool(n);
  std::atomic<int64_t> sink{0};
  const auto t0 = std::chrono::steady_clock::now();
  int reps = 0;  // up to 20000 runs or half a second (sanitizer builds on a busy machine are slow)
  while (reps < 20000 && (reps % 256 != 0 || std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(500))) {
    pool.run([&](int ith, int) { sink.fetch_add(ith); });
    ++reps;
  }
  const double us =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / reps;
  std::printf("dispatch latency with %d threads: %.2f us per run()\n", n, us);
  EXPECT_EQ(sink.load(), int64_t{reps} * n * (n - 1) / 2);
}
