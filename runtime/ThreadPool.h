//===- ThreadPool.h - runs a dispatch's workgroups on N threads -*- C++ -*-===//
//
// Implements mbrt_host_context.parallel_for (docs/artifact.md): fn(captures,
// w) for every w in [0, count), handed out in chunks from a shared counter
// so fast threads take more; the calling thread works too, and the call
// returns when every workgroup has finished.
//
// Safe to call from several threads at once (jobs are run one after
// another) and from inside a workgroup (the nested job runs inline on the
// calling thread). Each session owns one pool, so sessions never wait for
// each other.
//
//===----------------------------------------------------------------------===//
#ifndef MBRT_THREADPOOL_H
#define MBRT_THREADPOOL_H

#include "mbc/ArtifactFormat.h"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace mbrt {

class ThreadPool {
public:
  /// `threads` counts the calling thread: threads - 1 workers are started.
  /// 0 means std::thread::hardware_concurrency().
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool &) = delete;
  ThreadPool &operator=(const ThreadPool &) = delete;

  int threads() const { return static_cast<int>(workers_.size()) + 1; }

  void parallelFor(mbrt_workgroup_fn fn, void *captures, int64_t count);

  /// The host context to pass to compiled code; `runtime` is this pool.
  mbrt_host_context hostContext();

private:
  void workerLoop();
  void runChunks();

  std::vector<std::thread> workers_;
  std::mutex submitMutex_; // one job at a time

  // The current job; written by the submitter before it opens the job.
  mbrt_workgroup_fn fn_ = nullptr;
  void *captures_ = nullptr;
  int64_t count_ = 0;
  int64_t chunk_ = 1;
  std::atomic<int64_t> next_{0};

  std::mutex mutex_;                    // guards the fields below
  std::condition_variable wake_;        // workers wait for a job
  std::condition_variable finished_;    // the submitter waits for helpers
  std::atomic<uint64_t> generation_{0}; // bumped per job; read while spinning
  int openSlots_ = 0;                   // helpers the current job still takes
  int helpersRunning_ = 0;
  bool stopping_ = false;
};

} // namespace mbrt

#endif // MBRT_THREADPOOL_H
