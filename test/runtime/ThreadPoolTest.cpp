//===- ThreadPoolTest.cpp - every workgroup once, from any caller ---------===//
#include "ThreadPool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

using mbrt::ThreadPool;

namespace {

struct Counts {
  std::vector<std::atomic<int>> runs;
  std::mutex mutex;
  std::set<std::thread::id> threads;
  explicit Counts(int64_t count) : runs(count) {}
};

void countWorkgroup(void *captures, int64_t workgroup) {
  auto *counts = static_cast<Counts *>(captures);
  counts->runs[workgroup].fetch_add(1);
  std::lock_guard<std::mutex> lock(counts->mutex);
  counts->threads.insert(std::this_thread::get_id());
}

void expectEachRanOnce(const Counts &counts) {
  for (size_t w = 0; w < counts.runs.size(); ++w)
    ASSERT_EQ(counts.runs[w].load(), 1) << "workgroup " << w;
}

TEST(ThreadPool, EveryWorkgroupRunsExactlyOnce) {
  ThreadPool pool(4);
  EXPECT_EQ(pool.threads(), 4);
  for (int64_t count : {0, 1, 2, 3, 4, 5, 7, 16, 17, 1000, 100003}) {
    SCOPED_TRACE(count);
    Counts counts(count);
    mbrt_host_context context = pool.hostContext();
    context.parallel_for(context.runtime, countWorkgroup, &counts, count);
    expectEachRanOnce(counts);
  }
}

TEST(ThreadPool, DefaultSizeIsTheHardware) {
  ThreadPool pool(0);
  EXPECT_EQ(pool.threads(), static_cast<int>(std::max(
                                1u, std::thread::hardware_concurrency())));
}

TEST(ThreadPool, SingleThreadRunsOnTheCaller) {
  ThreadPool pool(1);
  Counts counts(50);
  pool.parallelFor(countWorkgroup, &counts, 50);
  expectEachRanOnce(counts);
  EXPECT_EQ(counts.threads,
            std::set<std::thread::id>{std::this_thread::get_id()});
}

void slowWorkgroup(void *captures, int64_t workgroup) {
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  countWorkgroup(captures, workgroup);
}

TEST(ThreadPool, WorkersShareTheWork) {
  ThreadPool pool(4);
  Counts counts(64);
  pool.parallelFor(slowWorkgroup, &counts, 64);
  expectEachRanOnce(counts);
  EXPECT_GT(counts.threads.size(), 1u);
}

struct Nested {
  ThreadPool *pool;
  std::vector<std::unique_ptr<Counts>> *inner;
  int64_t innerCount;
};

void nestedWorkgroup(void *captures, int64_t workgroup) {
  auto *nested = static_cast<Nested *>(captures);
  // A dispatch that itself calls parallel_for runs the inner one inline.
  Counts &inner = *(*nested->inner)[workgroup];
  nested->pool->parallelFor(countWorkgroup, &inner, nested->innerCount);
}

TEST(ThreadPool, NestedCallsDoNotDeadlock) {
  ThreadPool pool(3);
  std::vector<std::unique_ptr<Counts>> inner;
  inner.reserve(8);
  for (int i = 0; i < 8; ++i)
    inner.push_back(std::make_unique<Counts>(10));
  Nested nested{&pool, &inner, 10};
  pool.parallelFor(nestedWorkgroup, &nested, 8);
  for (const auto &counts : inner)
    expectEachRanOnce(*counts);
}

TEST(ThreadPool, ConcurrentCallersOnOnePoolAreSerialised) {
  ThreadPool pool(3);
  std::vector<std::thread> callers;
  std::vector<std::unique_ptr<Counts>> results;
  callers.reserve(4);
  results.reserve(4);
  for (int c = 0; c < 4; ++c)
    results.push_back(std::make_unique<Counts>(5000));
  for (int c = 0; c < 4; ++c)
    callers.emplace_back([&, c] {
      for (int repeat = 0; repeat < 20; ++repeat) {
        Counts counts(5000);
        pool.parallelFor(countWorkgroup, &counts, 5000);
        for (size_t w = 0; w < counts.runs.size(); ++w)
          if (counts.runs[w] != 1)
            results[c]->runs[w] = 99;
      }
    });
  for (std::thread &caller : callers)
    caller.join();
  for (auto &result : results)
    for (auto &run : result->runs)
      EXPECT_EQ(run.load(), 0);
}

TEST(ThreadPool, PoolsOfTwoSessionsRunAtTheSameTime) {
  ThreadPool first(3), second(3);
  std::atomic<bool> failed{false};
  auto hammer = [&](ThreadPool &pool) {
    for (int repeat = 0; repeat < 200; ++repeat) {
      Counts counts(257);
      pool.parallelFor(countWorkgroup, &counts, 257);
      for (auto &run : counts.runs)
        if (run != 1)
          failed = true;
    }
  };
  std::thread other([&] { hammer(second); });
  hammer(first);
  other.join();
  EXPECT_FALSE(failed);
}

} // namespace
