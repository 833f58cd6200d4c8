//===- CudaEntryCall.h - one entry point's plan run on a session -*- C++
//-*-===//
//
// The CUDA counterpart of calling a compiled CPU function: the session's
// host buffers of the entry's inputs go to device buffers (through pinned
// staging, so the copy does not wait for the stream), the plan's steps run
// on the session's stream (or its CUDA graph, for the decode entries).
// Nothing waits for the device until the host reads an output (fetch): the
// generation driver chains entries on the device (an input taken from
// another entry's output is a device-to-device copy) and waits once per
// byte, for the head's distribution. inout buffers (KV caches, shift
// state) live on the device only.
//
//===----------------------------------------------------------------------===//
#ifndef MBRT_CUDA_CUDAENTRYCALL_H
#define MBRT_CUDA_CUDAENTRYCALL_H

#include "cuda/CudaModel.h"

#include <array>
#include <cstdint>
#include <string>
#include <utility>
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

  /// Waits for everything enqueued on the stream; kernel faults surface
  /// here, attributed to `what` (the entry that waits, and whatever was
  /// enqueued before it).
  void synchronize(const std::string &what);
  /// How many times synchronize() returned: work enqueued before the n-th
  /// wait is done once synchronizations() > n.
  uint64_t synchronizations() const { return synchronizations_; }

private:
  const CudaModel &model_;
  cuda::Stream stream_ = nullptr;
  DeviceBuffer arena_;
  uint64_t deviceBytes_ = 0;
  uint64_t synchronizations_ = 0;
};

/// Page-locked host memory (cuMemAllocHost): copies from it to the device
/// are asynchronous with respect to the host.
class PinnedBuffer {
public:
  PinnedBuffer() = default;
  PinnedBuffer(const cuda::CudaDriver &driver, uint64_t bytes,
               const std::string &what);
  ~PinnedBuffer();
  PinnedBuffer(PinnedBuffer &&other) noexcept
      : driver_(other.driver_), data_(other.data_) {
    other.data_ = nullptr;
  }
  PinnedBuffer &operator=(PinnedBuffer &&other) noexcept {
    std::swap(driver_, other.driver_);
    std::swap(data_, other.data_);
    return *this;
  }
  PinnedBuffer(const PinnedBuffer &) = delete;
  PinnedBuffer &operator=(const PinnedBuffer &) = delete;

  uint8_t *data() const { return data_; }

private:
  const cuda::CudaDriver *driver_ = nullptr;
  uint8_t *data_ = nullptr;
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

  /// Enqueues the inputs the host wrote (the ones not set on the device
  /// since the last run) and the plan; does not wait.
  void run();
  /// Copies output or inout `index` to its host buffer and waits for the
  /// stream.
  void fetch(size_t index);
  /// Sets input `index` on the device: `bytes` of `source`'s argument
  /// `sourceIndex` from byte `offset` (or zeros when `source` is null; the
  /// caller checked that both fit). Its host buffer is not staged by the
  /// next run().
  void setInput(size_t index, const CudaEntryCall *source, size_t sourceIndex,
                uint64_t offset, uint64_t bytes);
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
  std::vector<uint64_t> stagingOffsets_;       // per input, into a slot
  std::vector<bool> setOnDevice_;              // per input, until run()
  /// Two slots of the host-written inputs, used by turns: a run's copies
  /// may read its slot until the session next waits, so a run waits only
  /// when both slots were staged since (stagedAt_: the session's
  /// synchronizations() at each slot's last staging).
  PinnedBuffer staging_;
  uint64_t slotBytes_ = 0;
  std::array<uint64_t, 2> stagedAt_{UINT64_MAX, UINT64_MAX};
  size_t slot_ = 0;
  std::vector<Launch> launches_; // per step (Launch steps)
  cuda::GraphExec graph_ = nullptr;
};

} // namespace mbrt

#endif // MBRT_CUDA_CUDAENTRYCALL_H
