//===- CudaModel.cpp - a model's device side: context, code, weights ------===//
#include "cuda/CudaModel.h"
#include "RuntimeError.h"

#include <cstring>

namespace mbrt {

using namespace cuda;

DeviceBuffer::~DeviceBuffer() {
  if (driver_ && address_)
    driver_->memoryFree(address_); // nothing to do about a failure here
}

DeviceBuffer::DeviceBuffer(DeviceBuffer &&other) noexcept
    : driver_(other.driver_), address_(other.address_), size_(other.size_) {
  other.address_ = 0;
  other.size_ = 0;
}

DeviceBuffer &DeviceBuffer::operator=(DeviceBuffer &&other) noexcept {
  if (this != &other) {
    if (driver_ && address_)
      driver_->memoryFree(address_);
    driver_ = other.driver_;
    address_ = other.address_;
    size_ = other.size_;
    other.address_ = 0;
    other.size_ = 0;
  }
  return *this;
}

namespace {

/// Device copies of the weights start on 256-byte boundaries (docs/cuda.md).
constexpr uint64_t weightAlignment = 256;

} // namespace

CudaModel::CudaModel(std::shared_ptr<CudaDriver> driver,
                     const std::string &path, const ModelMetadata &meta,
                     CudaMetadata cuda, const uint8_t *code,
                     const std::vector<const void *> &hostWeights)
    : driver_(std::move(driver)), path_(path), cuda_(std::move(cuda)) {
  const CudaDriver &api = *driver_;
  api.check(api.deviceGet(&device_, 0), "cuDeviceGet", "CUDA device 0",
            MBRT_ERROR_NO_DEVICE);
  int major = 0, minor = 0;
  api.check(api.deviceGetAttribute(&major, attributeComputeMajor, device_),
            "cuDeviceGetAttribute", "CUDA device 0", MBRT_ERROR_NO_DEVICE);
  api.check(api.deviceGetAttribute(&minor, attributeComputeMinor, device_),
            "cuDeviceGetAttribute", "CUDA device 0", MBRT_ERROR_NO_DEVICE);
  char name[256] = {};
  if (api.deviceGetName(name, sizeof name - 1, device_) != success)
    std::strcpy(name, "CUDA device 0");
  int capability = 10 * major + minor;
  std::string problem;
  int chosen = selectCudaImage(cuda_.images, capability, problem);
  if (chosen < 0)
    fail(MBRT_ERROR_UNSUPPORTED, path_ + ": " + name + ": " + problem);
  image_ = &cuda_.images[chosen];
  api.check(api.primaryContextRetain(&context_, device_),
            "cuDevicePrimaryCtxRetain", name, MBRT_ERROR_NO_DEVICE);
  try {
    makeCurrent();
    std::string rejected = loadModule(code, capability);
    description_ = std::string(name) + " (sm_" + std::to_string(capability) +
                   "), " + image_->arch.name() +
                   (image_->cubin ? " cubin" : " ptx (JIT-compiled)") +
                   (rejected.empty()
                        ? ""
                        : " (the driver rejected the " + rejected + " cubin)");
    uploadWeights(meta, hostWeights);
  } catch (...) {
    release(); // no destructor runs after a throwing constructor
    throw;
  }
}

CudaModel::~CudaModel() { release(); }

void CudaModel::release() noexcept {
  if (!context_)
    return;
  driver_->contextSetCurrent(context_);
  weights_ = DeviceBuffer();
  if (module_)
    driver_->moduleUnload(module_);
  module_ = nullptr;
  driver_->primaryContextRelease(device_);
  context_ = nullptr;
}

void CudaModel::makeCurrent() const {
  driver_->check(driver_->contextSetCurrent(context_), "cuCtxSetCurrent", path_,
                 MBRT_ERROR_INTERNAL);
}

DeviceBuffer CudaModel::allocate(const std::string &what,
                                 uint64_t bytes) const {
  DevicePointer address = 0;
  // cuMemAlloc rejects 0 bytes; an empty buffer still gets an address.
  Result result = driver_->memoryAllocate(&address, bytes ? bytes : 1);
  if (result == success)
    return DeviceBuffer(driver_.get(), address, bytes);
  size_t freeBytes = 0, totalBytes = 0;
  std::string memory;
  if (driver_->memoryGetInfo(&freeBytes, &totalBytes) == success)
    memory = "; the device has " + std::to_string(freeBytes) + " of " +
             std::to_string(totalBytes) + " bytes free";
  fail(result == errorOutOfMemory ? MBRT_ERROR_OUT_OF_MEMORY
                                  : MBRT_ERROR_INTERNAL,
       path_ + ": cannot allocate " + std::to_string(bytes) +
           " bytes of device memory for " + what + " (" +
           driver_->describe("cuMemAlloc_v2", result) + ")" + memory +
           (deviceBytes() ? "; the model's weights hold " +
                                std::to_string(deviceBytes()) + " bytes"
                          : std::string()));
}

bool CudaModel::loadImage(const uint8_t *code, std::string &error) {
  // PTX is text the JIT reads up to a NUL, which the section need not hold.
  std::string image(reinterpret_cast<const char *>(code + image_->offset),
                    image_->size);
  char log[8192] = {};
  int options[] = {jitErrorLogBuffer, jitErrorLogBufferSize};
  // The driver takes option values as void*, sizes included.
  void *values[] = {
      log, reinterpret_cast<void *>( // NOLINT(performance-no-int-to-ptr)
               uintptr_t(sizeof log - 1))};
  Result result =
      driver_->moduleLoadDataEx(&module_, image.c_str(), 2, options, values);
  if (result == success)
    return true;
  module_ = nullptr;
  error = path_ + ": CUDA_CODE image " + image_->arch.name() +
          (image_->cubin ? " cubin" : " ptx") + ": " +
          driver_->describe("cuModuleLoadDataEx", result) +
          (log[0] ? std::string(": ") + log : "");
  return false;
}

std::string CudaModel::loadModule(const uint8_t *code, int capability) {
  std::string error, rejected;
  if (!loadImage(code, error)) {
    // A cubin the driver rejects (made by a newer ptxas than the driver
    // knows, say): the PTX this device runs, JIT-compiled, if there is one.
    std::string noPtx;
    int ptx = image_->cubin ? selectCudaImage(cuda_.images, capability, noPtx,
                                              /*cubins=*/false)
                            : -1;
    if (ptx < 0)
      fail(MBRT_ERROR_CODE, error);
    rejected = image_->arch.name();
    image_ = &cuda_.images[ptx];
    std::string ptxError;
    if (!loadImage(code, ptxError))
      fail(MBRT_ERROR_CODE, error + "; " + ptxError);
  }
  std::string what = path_ + ": CUDA_CODE image " + image_->arch.name() +
                     (image_->cubin ? " cubin" : " ptx");
  int sharedLimit = 0;
  driver_->deviceGetAttribute(&sharedLimit, attributeMaxSharedOptIn, device_);
  for (const CudaKernel &kernel : cuda_.kernels) {
    Function function = nullptr;
    driver_->check(
        driver_->moduleGetFunction(&function, module_, kernel.name.c_str()),
        "cuModuleGetFunction", what + ": kernel \"" + kernel.name + "\"",
        MBRT_ERROR_CODE);
    // Above 48 KiB of dynamic shared memory a kernel must opt in.
    if (kernel.sharedBytes > 48 * 1024) {
      if (sharedLimit > 0 && kernel.sharedBytes > uint32_t(sharedLimit))
        fail(MBRT_ERROR_UNSUPPORTED,
             what + ": kernel \"" + kernel.name + "\" needs " +
                 std::to_string(kernel.sharedBytes) +
                 " bytes of shared memory, the device allows " +
                 std::to_string(sharedLimit));
      driver_->check(
          driver_->functionSetAttribute(function, functionMaxDynamicShared,
                                        int(kernel.sharedBytes)),
          "cuFuncSetAttribute", what + ": kernel \"" + kernel.name + "\"",
          MBRT_ERROR_CODE);
    }
    functions_.push_back(function);
  }
  return rejected;
}

void CudaModel::uploadWeights(const ModelMetadata &meta,
                              const std::vector<const void *> &hostWeights) {
  uint64_t total = 0;
  for (const WeightTensor &tensor : meta.weights) {
    weightOffsets_.push_back(total);
    total +=
        (tensor.size + weightAlignment - 1) / weightAlignment * weightAlignment;
  }
  weights_ = allocate("the weights (" + std::to_string(meta.weights.size()) +
                          " tensors)",
                      total);
  for (size_t i = 0; i < meta.weights.size(); ++i)
    if (meta.weights[i].size)
      driver_->check(driver_->copyHostToDevice(weight(i), hostWeights[i],
                                               meta.weights[i].size),
                     "cuMemcpyHtoD_v2",
                     path_ + ": weight \"" + meta.weights[i].name + "\"",
                     MBRT_ERROR_INTERNAL);
}

} // namespace mbrt
