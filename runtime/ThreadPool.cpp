//===- ThreadPool.cpp - runs a dispatch's workgroups on N threads ---------===//
#include "ThreadPool.h"

#include <algorithm>

namespace mbrt {
namespace {

/// The pool whose workgroup this thread is running, if any: a parallel_for
/// issued from inside a workgroup runs inline instead of deadlocking.
thread_local const ThreadPool *poolOfCurrentWorkgroup = nullptr;

/// How long an idle worker polls for the next job before it sleeps: decode
/// issues many small dispatches back to back, and a futex wake-up costs
/// more than a short poll.
constexpr int spinIterations = 2000;

void pause() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#else
  std::this_thread::yield();
#endif
}

void parallelForTrampoline(void *runtime, mbrt_workgroup_fn fn, void *captures,
                           int64_t count) {
  static_cast<ThreadPool *>(runtime)->parallelFor(fn, captures, count);
}

} // namespace

ThreadPool::ThreadPool(int threads) {
  if (threads <= 0)
    threads =
        static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  workers_.reserve(threads - 1);
  for (int i = 1; i < threads; ++i)
    workers_.emplace_back([this] { workerLoop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (std::thread &worker : workers_)
    worker.join();
}

mbrt_host_context ThreadPool::hostContext() {
  mbrt_host_context context;
  context.parallel_for = parallelForTrampoline;
  context.runtime = this;
  return context;
}

void ThreadPool::runChunks() {
  const ThreadPool *outer = poolOfCurrentWorkgroup;
  poolOfCurrentWorkgroup = this;
  for (;;) {
    int64_t begin = next_.fetch_add(chunk_, std::memory_order_relaxed);
    if (begin >= count_)
      break;
    int64_t end = std::min(count_, begin + chunk_);
    for (int64_t w = begin; w < end; ++w)
      fn_(captures_, w);
  }
  poolOfCurrentWorkgroup = outer;
}

void ThreadPool::parallelFor(mbrt_workgroup_fn fn, void *captures,
                             int64_t count) {
  if (count <= 0)
    return;
  if (count == 1 || workers_.empty() || poolOfCurrentWorkgroup == this) {
    for (int64_t w = 0; w < count; ++w)
      fn(captures, w);
    return;
  }
  std::lock_guard<std::mutex> submit(submitMutex_);
  int64_t participants =
      std::min<int64_t>(count, static_cast<int64_t>(workers_.size()) + 1);
  fn_ = fn;
  captures_ = captures;
  count_ = count;
  // About four chunks per participant balances load without contention.
  chunk_ = std::max<int64_t>(1, count / (participants * 4));
  next_.store(0, std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    openSlots_ = static_cast<int>(participants - 1);
    generation_.fetch_add(1, std::memory_order_release);
  }
  for (int64_t i = 1; i < participants; ++i)
    wake_.notify_one();
  runChunks();
  std::unique_lock<std::mutex> lock(mutex_);
  openSlots_ = 0; // helpers that wake up late stay out of a finished job
  finished_.wait(lock, [this] { return helpersRunning_ == 0; });
}

void ThreadPool::workerLoop() {
  uint64_t seen = 0;
  for (;;) {
    for (int i = 0; i < spinIterations &&
                    generation_.load(std::memory_order_acquire) == seen;
         ++i)
      pause();
    std::unique_lock<std::mutex> lock(mutex_);
    wake_.wait(lock, [&] {
      return stopping_ || generation_.load(std::memory_order_relaxed) != seen;
    });
    if (stopping_)
      return;
    seen = generation_.load(std::memory_order_relaxed);
    if (openSlots_ == 0)
      continue;
    --openSlots_;
    ++helpersRunning_;
    lock.unlock();
    runChunks();
    lock.lock();
    if (--helpersRunning_ == 0)
      finished_.notify_one();
  }
}

} // namespace mbrt
