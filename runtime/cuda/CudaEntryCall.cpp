//===- CudaEntryCall.cpp - one entry point's plan run on a session --------===//
#include "cuda/CudaEntryCall.h"
#include "RuntimeError.h"

#include <cstring>

namespace mbrt {

using namespace cuda;

CudaSessionState::CudaSessionState(const CudaModel &model) : model_(model) {
  const CudaDriver &driver = model.driver();
  model.makeCurrent();
  uint64_t arenaBytes = model.metadata().arenaBytes;
  arena_ = model.allocate("the session's arena (META cuda.plans "
                          "arena_bytes, the largest plan's)",
                          arenaBytes);
  deviceBytes_ += arenaBytes;
  // Last: nothing after it can throw and leak the stream.
  driver.check(driver.streamCreate(&stream_, streamNonBlocking),
               "cuStreamCreate", "session stream", MBRT_ERROR_INTERNAL);
}

CudaSessionState::~CudaSessionState() {
  model_.makeCurrentForCleanup();
  arena_ = DeviceBuffer();
  if (stream_)
    model_.driver().streamDestroy(stream_);
}

void CudaSessionState::synchronize(const std::string &what) {
  model_.driver().check(
      model_.driver().streamSynchronize(stream_), "cuStreamSynchronize",
      what + " (or work enqueued before it)", MBRT_ERROR_INTERNAL);
  ++synchronizations_;
}

PinnedBuffer::PinnedBuffer(const CudaDriver &driver, uint64_t bytes,
                           const std::string &what)
    : driver_(&driver) {
  void *data = nullptr;
  Result result = driver.memoryAllocateHost(&data, bytes);
  if (result == errorOutOfMemory)
    fail(MBRT_ERROR_OUT_OF_MEMORY,
         "cannot allocate " + std::to_string(bytes) +
             " bytes of page-locked host memory for " + what + ": " +
             driver.describe("cuMemAllocHost_v2", result));
  driver.check(result, "cuMemAllocHost_v2", what, MBRT_ERROR_INTERNAL);
  data_ = static_cast<uint8_t *>(data);
}

PinnedBuffer::~PinnedBuffer() {
  if (data_)
    driver_->memoryFreeHost(data_);
}

CudaEntryCall::CudaEntryCall(CudaSessionState &session,
                             const ModelMetadata &meta, const EntryPoint &entry,
                             const CudaPlan &plan,
                             const std::vector<uint8_t *> &hostBuffers,
                             bool captureGraph)
    : session_(session), model_(session.model()),
      driver_(session.model().driver()), entry_(entry), plan_(plan),
      host_(hostBuffers) {
  model_.makeCurrent();
  size_t count = entry.args.size();
  sizes_.resize(count);
  buffers_.resize(count);
  addresses_.resize(count);
  for (size_t i = 0; i < count; ++i) {
    const EntryArg &arg = entry.args[i];
    sizes_[i] = argumentBytes(meta, entry, i);
    if (arg.kind == ArgKind::Weight) {
      addresses_[i] = model_.weight(arg.weightIndex);
    } else if (arg.kind != ArgKind::Context) {
      buffers_[i] =
          model_.allocate("argument \"" + arg.name + "\" of entry point \"" +
                              entry.name + "\" (this session already holds " +
                              std::to_string(session.deviceBytes()) + " bytes)",
                          sizes_[i]);
      session.deviceBytes() += sizes_[i];
      addresses_[i] = buffers_[i].address();
    }
  }
  // Page-locked staging for the inputs: two slots, 256-byte aligned each.
  stagingOffsets_.assign(count, 0);
  setOnDevice_.assign(count, false);
  for (size_t i = 0; i < count; ++i)
    if (entry.args[i].kind == ArgKind::Input) {
      stagingOffsets_[i] = slotBytes_;
      slotBytes_ += (sizes_[i] + 255) / 256 * 256;
    }
  if (slotBytes_)
    staging_ = PinnedBuffer(driver_, 2 * slotBytes_,
                            "the inputs of entry point \"" + entry.name + "\"");
  resetState(); // caches start zeroed, as on the CPU
  launches_.resize(plan.steps.size());
  for (size_t s = 0; s < plan.steps.size(); ++s)
    if (plan.steps[s].kind == PlanStep::Launch)
      prepareLaunch(plan.steps[s], launches_[s]);
  if (captureGraph)
    capture();
}

CudaEntryCall::~CudaEntryCall() {
  model_.makeCurrentForCleanup();
  if (graph_)
    driver_.graphExecDestroy(graph_);
  for (DeviceBuffer &buffer : buffers_)
    buffer = DeviceBuffer();
}

std::string CudaEntryCall::where() const {
  return "entry point \"" + entry_.name + "\" on CUDA";
}

DevicePointer CudaEntryCall::resolve(const BufferRef &ref) const {
  if (ref.weight)
    return model_.weight(ref.weightIndex) + ref.offset;
  return (ref.temporary ? session_.arena() : addresses_[ref.argument]) +
         ref.offset;
}

void CudaEntryCall::prepareLaunch(const PlanStep &step, Launch &launch) {
  const CudaKernel &kernel = model_.metadata().kernels[step.kernel];
  launch.function = model_.function(step.kernel);
  launch.grid = step.grid;
  launch.block = kernel.block;
  launch.sharedBytes = kernel.sharedBytes;
  size_t mapCount = 0;
  for (const LaunchArg &arg : step.args)
    mapCount += arg.kind == KernelParam::TensorMap;
  // The params point into these vectors: size them before taking addresses.
  launch.scalars.assign(step.args.size(), 0);
  launch.maps.resize(mapCount);
  launch.params.resize(step.args.size());
  size_t map = 0;
  for (size_t i = 0; i < step.args.size(); ++i) {
    const LaunchArg &arg = step.args[i];
    uint64_t &slot = launch.scalars[i];
    launch.params[i] = &slot; // little-endian: narrower values sit first
    switch (arg.kind) {
    case KernelParam::Pointer:
      slot = resolve(arg.buffer);
      break;
    case KernelParam::I64:
      std::memcpy(&slot, &arg.integer, sizeof arg.integer);
      break;
    case KernelParam::I32: {
      int32_t value = static_cast<int32_t>(arg.integer);
      std::memcpy(&slot, &value, sizeof value);
      break;
    }
    case KernelParam::F32:
      std::memcpy(&slot, &arg.real, sizeof arg.real);
      break;
    case KernelParam::TensorMap: {
      const TensorMapSpec &spec = arg.map;
      std::vector<uint32_t> elementStrides(spec.dims.size(), 1);
      TensorMap &encoded = launch.maps[map++];
      driver_.check(driver_.tensorMapEncodeTiled(
                        &encoded, spec.dataType, uint32_t(spec.dims.size()),
                        // A device address, as the driver's API types it.
                        // NOLINTNEXTLINE(performance-no-int-to-ptr)
                        reinterpret_cast<void *>(uintptr_t(resolve(spec.base))),
                        spec.dims.data(), spec.stridesBytes.data(),
                        spec.box.data(), elementStrides.data(),
                        tensorMapInterleaveNone, spec.swizzle,
                        tensorMapL2Promotion128, tensorMapOutOfBoundsZero),
                    "cuTensorMapEncodeTiled",
                    where() + ": META " + step.jsonPath + ".args[" +
                        std::to_string(i) + "]",
                    MBRT_ERROR_CODE);
      launch.params[i] = &encoded;
      break;
    }
    }
  }
}

void CudaEntryCall::enqueuePlan() {
  Stream stream = session_.stream();
  for (size_t s = 0; s < plan_.steps.size(); ++s) {
    const PlanStep &step = plan_.steps[s];
    std::string what = where() + ": META " + step.jsonPath;
    switch (step.kind) {
    case PlanStep::Launch: {
      Launch &launch = launches_[s];
      driver_.check(driver_.launchKernel(launch.function, launch.grid[0],
                                         launch.grid[1], launch.grid[2],
                                         launch.block[0], launch.block[1],
                                         launch.block[2], launch.sharedBytes,
                                         stream, launch.params.data(), nullptr),
                    "cuLaunchKernel",
                    what + " (kernel \"" +
                        model_.metadata().kernels[step.kernel].name + "\")",
                    MBRT_ERROR_INTERNAL);
      break;
    }
    case PlanStep::Copy:
      if (step.bytes)
        driver_.check(driver_.copyDeviceToDeviceAsync(resolve(step.destination),
                                                      resolve(step.source),
                                                      step.bytes, stream),
                      "cuMemcpyDtoDAsync_v2", what, MBRT_ERROR_INTERNAL);
      break;
    case PlanStep::Fill:
      if (step.bytes)
        driver_.check(driver_.memset32Async(resolve(step.destination),
                                            step.value, step.bytes / 4, stream),
                      "cuMemsetD32Async", what, MBRT_ERROR_INTERNAL);
      break;
    }
  }
}

void CudaEntryCall::capture() {
  Stream stream = session_.stream();
  driver_.check(driver_.streamBeginCapture(stream, captureModeThreadLocal),
                "cuStreamBeginCapture_v2", where(), MBRT_ERROR_INTERNAL);
  Graph graph = nullptr;
  try {
    enqueuePlan();
  } catch (...) {
    driver_.streamEndCapture(stream, &graph); // leave the stream usable
    if (graph)
      driver_.graphDestroy(graph);
    throw;
  }
  driver_.check(driver_.streamEndCapture(stream, &graph), "cuStreamEndCapture",
                where(), MBRT_ERROR_INTERNAL);
  Result result = driver_.graphInstantiate(&graph_, graph, 0);
  driver_.graphDestroy(graph);
  driver_.check(result, "cuGraphInstantiateWithFlags", where(),
                MBRT_ERROR_INTERNAL);
}

void CudaEntryCall::run() {
  model_.makeCurrent();
  Stream stream = session_.stream();
  bool staging = false;
  for (size_t i = 0; i < entry_.args.size(); ++i)
    staging |=
        entry_.args[i].kind == ArgKind::Input && sizes_[i] && !setOnDevice_[i];
  // An earlier run's copies may still read this slot.
  if (staging && stagedAt_[slot_] == session_.synchronizations())
    session_.synchronize(where());
  for (size_t i = 0; i < entry_.args.size(); ++i) {
    if (entry_.args[i].kind != ArgKind::Input || !sizes_[i])
      continue;
    if (setOnDevice_[i]) {
      setOnDevice_[i] = false;
      continue;
    }
    uint8_t *pinned = staging_.data() + slot_ * slotBytes_ + stagingOffsets_[i];
    std::memcpy(pinned, host_[i], sizes_[i]);
    driver_.check(
        driver_.copyHostToDeviceAsync(addresses_[i], pinned, sizes_[i], stream),
        "cuMemcpyHtoDAsync_v2",
        where() + ": input \"" + entry_.args[i].name + "\"",
        MBRT_ERROR_INTERNAL);
  }
  if (staging) {
    stagedAt_[slot_] = session_.synchronizations();
    slot_ ^= 1;
  }
  if (graph_)
    driver_.check(driver_.graphLaunch(graph_, stream), "cuGraphLaunch", where(),
                  MBRT_ERROR_INTERNAL);
  else
    enqueuePlan();
}

void CudaEntryCall::fetch(size_t index) {
  model_.makeCurrent();
  if (sizes_[index])
    driver_.check(driver_.copyDeviceToHostAsync(host_[index], addresses_[index],
                                                sizes_[index],
                                                session_.stream()),
                  "cuMemcpyDtoHAsync_v2",
                  where() + ": output \"" + entry_.args[index].name + "\"",
                  MBRT_ERROR_INTERNAL);
  session_.synchronize(where());
}

void CudaEntryCall::setInput(size_t index, const CudaEntryCall *source,
                             size_t sourceIndex, uint64_t offset,
                             uint64_t bytes) {
  model_.makeCurrent();
  Result result = success;
  if (bytes && source)
    result = driver_.copyDeviceToDeviceAsync(
        addresses_[index], source->addresses_[sourceIndex] + offset, bytes,
        session_.stream());
  else if (bytes)
    result =
        driver_.memset8Async(addresses_[index], 0, bytes, session_.stream());
  // The message is built only on failure: this runs several times per
  // decoded byte.
  if (result != success)
    driver_.check(result, source ? "cuMemcpyDtoDAsync_v2" : "cuMemsetD8Async",
                  where() + ": input \"" + entry_.args[index].name + "\"",
                  MBRT_ERROR_INTERNAL);
  setOnDevice_[index] = true;
}

void CudaEntryCall::resetState() {
  model_.makeCurrent();
  for (size_t i = 0; i < entry_.args.size(); ++i)
    if (entry_.args[i].kind == ArgKind::InOut && sizes_[i])
      driver_.check(
          driver_.memset8Async(addresses_[i], 0, sizes_[i], session_.stream()),
          "cuMemsetD8Async",
          where() + ": inout \"" + entry_.args[i].name + "\"",
          MBRT_ERROR_INTERNAL);
}

} // namespace mbrt
