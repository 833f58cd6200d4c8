//===- CudaEntryCall.h - one entry point's plan run on a session -*- C++
//-*-===//
//
// The CUDA counterpart of calling a compiled CPU function: the session's
// host buffers of the entry's inputs go to device buffers, the plan's steps
// run on the session's stream (or its CUDA graph, for the decode entries),
// the outputs come back. inout buffers (KV caches, shift state) live on the
// device only.
//
//===----------------------------------------------------------------------===//
#ifndef MBRT_CUDA_CUDAENTRYCALL_H
#define MBRT_CUDA_CUDAENTRYCALL_H

#include "cuda/CudaModel.h"

#include <array>
#include <string>
#include <vector>

namespace mbrt {

/// What every entry of one session shares: a stream and the arena.
class CudaSessionState {
public:
  explicit CudaSessionState(const CudaModel &model);
  ~CudaSessionState();
  CudaSessionState(const CudaSessionState &) = delete;
  CudaSessionState &operator=(const CudaSessionState &) = delete;

  const CudaModel &model() const { return model_; }
  cuda::Stream stream() const { return stream_; }
  cuda::DevicePointer arena() const { return arena_.address(); }
  /// Device memory this session holds (arena and buffers), for messages.
  uint64_t &deviceBytes() { return deviceBytes_; }

private:
  const CudaModel &model_;
  cuda::Stream stream_ = nullptr;
  DeviceBuffer arena_;
  uint64_t deviceBytes_ = 0;
};

class CudaEntryCall {
public:
  /// `hostBuffers[i]` is the session's host buffer of argument i (null for
  /// the context and weights). With `captureGraph` the plan is captured
  /// into a CUDA graph once, here, and replayed by run().
  CudaEntryCall(CudaSessionState &session, const ModelMetadata &meta,
                const EntryPoint &entry, const CudaPlan &plan,
                const std::vector<uint8_t *> &hostBuffers, bool captureGraph);
  ~CudaEntryCall();
  CudaEntryCall(const CudaEntryCall &) = delete;
  CudaEntryCall &operator=(const CudaEntryCall &) = delete;

  /// Inputs to the device, the plan, outputs back; waits for the stream.
  void run();
  /// Zeroes the inout buffers on the device.
  void resetState();

private:
  struct Launch {
    cuda::Function function = nullptr;
    std::array<uint32_t, 3> grid{}, block{};
    uint32_t sharedBytes = 0;
    std::vector<uint64_t> scalars;     // one slot per parameter
    std::vector<cuda::TensorMap> maps; // tensor_map parameters
    std::vector<void *> params;        // what cuLaunchKernel reads
  };

  cuda::DevicePointer resolve(const BufferRef &ref) const;
  void prepareLaunch(const PlanStep &step, Launch &launch);
  void enqueuePlan();
  void capture();
  std::string where() const;

  CudaSessionState &session_;
  const CudaModel &model_;
  const cuda::CudaDriver &driver_;
  const EntryPoint &entry_;
  const CudaPlan &plan_;
  std::vector<uint8_t *> host_;                // per argument
  std::vector<uint64_t> sizes_;                // per argument, bytes
  std::vector<DeviceBuffer> buffers_;          // inputs, outputs, inouts
  std::vector<cuda::DevicePointer> addresses_; // per argument
  std::vector<Launch> launches_;               // per step (Launch steps)
  cuda::GraphExec graph_ = nullptr;
};

} // namespace mbrt

#endif // MBRT_CUDA_CUDAENTRYCALL_H
