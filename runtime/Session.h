//===- Session.h - scoring and KV-cached generation for one user -*- C++
//-*-===//
//
// A session owns everything mutable: the buffers of each entry point's
// inputs, outputs and caches, and a thread pool. It drives the compiled
// entry points exactly as docs/runtime.md describes and does no model
// arithmetic itself.
//
//===----------------------------------------------------------------------===//
#ifndef MBRT_SESSION_H
#define MBRT_SESSION_H

#include "Model.h"
#include "ThreadPool.h"
#include "cuda/CudaEntryCall.h"

#include <memory>
#include <vector>

namespace mbrt {

/// One entry point bound to session-owned buffers: `args` is the array the
/// compiled function receives (docs/artifact.md ABI). On a CUDA model the
/// same host buffers are staged through the entry's device buffers.
class EntryCall {
public:
  /// `cudaSession` is the session's device state (null on the CPU);
  /// `captureGraph` replays the entry from a CUDA graph.
  EntryCall(const Model &model, const EntryPoint &entry,
            mbrt_host_context *context, CudaSessionState *cudaSession,
            bool captureGraph);

  /// Runs the entry on the buffers. On CUDA it is enqueued: read outputs
  /// through output().
  void run() {
    if (cuda_)
      cuda_->run();
    else
      function_(args_.data());
  }
  /// The buffer of the input/output/inout argument `name` (validated to
  /// exist when META was parsed), for the host to write inputs into.
  template <typename T> T *buffer(const std::string &name) const {
    return reinterpret_cast<T *>(bufferOf(name).data());
  }
  /// Output (or inout) `name` as the last run left it: on CUDA, copied from
  /// the device after waiting for it.
  template <typename T> const T *output(const std::string &name) {
    size_t index = argIndex(name);
    if (cuda_)
      cuda_->fetch(index);
    return reinterpret_cast<const T *>(buffers_[index].data());
  }
  /// Input `name` takes `bytes` of `source`'s argument `sourceName` from
  /// byte `offset`, or zeros when `source` is null: a device-side copy on
  /// CUDA (the host never sees the values). Fails when either buffer is
  /// too small.
  void setInput(const std::string &name, const EntryCall *source,
                const std::string &sourceName, size_t offset, size_t bytes);
  /// Zeroes every inout buffer (caches and shift state).
  void resetState();

private:
  size_t argIndex(const std::string &name) const;
  const AlignedBuffer &bufferOf(const std::string &name) const;

  const EntryPoint *entry_;
  EntryFunction function_;
  std::vector<AlignedBuffer> buffers_; // per argument; empty for the others
  std::vector<void *> args_;
  std::unique_ptr<CudaEntryCall> cuda_;
};

class Session {
public:
  Session(const Model &model, int threads);

  int threads() const { return pool_.threads(); }

  /// See mbrt_session_score.
  double score(const uint8_t *bytes, size_t size, float *byteLogprobs,
               float *logprobRows);

  /// See mbrt_session_generate. Throws RuntimeError; `generated` counts the
  /// bytes delivered, also when it throws.
  void generate(const uint8_t *prompt, size_t promptSize, size_t count,
                const mbrt_sampler_options &sampler, mbrt_byte_callback onByte,
                void *userData, uint8_t *outBytes, size_t &generated);

private:
  struct Stage {
    std::unique_ptr<EntryCall> embed, step, project;
    int32_t *unit = nullptr;
    int64_t *embedPosition = nullptr;
    int64_t *stepPosition = nullptr;
  };
  /// Where a step's context row comes from: the parent stage's projection
  /// (`project` null: zeros).
  struct ContextRow {
    const EntryCall *project = nullptr;
    size_t offset = 0; // bytes
  };

  void runStage(size_t s, int64_t position, const uint8_t *unitBytes,
                ContextRow context);
  void project(size_t s);
  ContextRow contextRow(size_t s, int64_t row) const;
  const float *head();
  const float *startSequence();
  const float *feedByte(const std::vector<uint8_t> &bytes, int64_t t);

  const Model &model_;
  const ModelMetadata &meta_;
  ThreadPool pool_;
  mbrt_host_context hostContext_;
  std::unique_ptr<CudaSessionState> cuda_; // before the entries using it
  std::unique_ptr<EntryCall> score_;
  std::vector<Stage> stages_;
  std::unique_ptr<EntryCall> head_;
  std::vector<int32_t> samplerScratch_;
};

/// Throws MBRT_ERROR_INVALID_ARGUMENT naming the first byte >= vocabSize.
void checkVocabulary(const uint8_t *bytes, size_t size, int32_t vocabSize,
                     const char *what);

} // namespace mbrt

#endif // MBRT_SESSION_H
