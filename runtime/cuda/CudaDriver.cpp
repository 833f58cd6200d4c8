//===- CudaDriver.cpp - the CUDA driver API, loaded at run time -----------===//
#include "cuda/CudaDriver.h"
#include "RuntimeError.h"

#include <cstdlib>
#include <dlfcn.h>

namespace mbrt {
namespace cuda {

std::shared_ptr<CudaDriver> CudaDriver::load() {
  const char *overridden = std::getenv("MBRT_CUDA_DRIVER");
  std::shared_ptr<CudaDriver> driver(new CudaDriver);
  driver->library_ = overridden && *overridden ? overridden : "libcuda.so.1";
  const std::string &library = driver->library_;
  driver->handle_ = ::dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!driver->handle_) {
    const char *reason = ::dlerror();
    fail(MBRT_ERROR_NO_DEVICE, "no CUDA device: the CUDA driver " + library +
                                   " cannot be loaded (" +
                                   (reason ? reason : "unknown reason") + ")");
  }
#define MBRT_CUDA_RESOLVE(member, symbol, type)                                \
  driver->member = reinterpret_cast<type>(::dlsym(driver->handle_, symbol));   \
  if (!driver->member)                                                         \
    fail(MBRT_ERROR_NO_DEVICE, "no CUDA device: the CUDA driver " + library +  \
                                   " lacks " symbol                            \
                                   " (a driver older than CUDA 12?)");
  MBRT_CUDA_DRIVER_FUNCTIONS(MBRT_CUDA_RESOLVE)
#undef MBRT_CUDA_RESOLVE
  if (Result result = driver->init(0))
    fail(MBRT_ERROR_NO_DEVICE,
         "no CUDA device: " + driver->describe("cuInit", result));
  if (Result result = driver->deviceGetCount(&driver->deviceCount_))
    fail(MBRT_ERROR_NO_DEVICE,
         "no CUDA device: " + driver->describe("cuDeviceGetCount", result));
  if (driver->deviceCount_ <= 0)
    fail(MBRT_ERROR_NO_DEVICE,
         "no CUDA device: the driver " + library + " reports 0 devices");
  return driver;
}

// The library stays loaded: the real driver keeps threads and atexit
// handlers that must not outlive its code, and dlopen counts references.
CudaDriver::~CudaDriver() = default;

std::string CudaDriver::describe(const char *call, Result result) const {
  const char *name = nullptr;
  const char *text = nullptr;
  if (!getErrorName || getErrorName(result, &name) != success || !name)
    name = nullptr;
  if (!getErrorString || getErrorString(result, &text) != success || !text)
    text = nullptr;
  std::string message = std::string(call) + " failed: ";
  message += name ? name : "CUDA error " + std::to_string(result);
  if (text)
    message += std::string(" (") + text + ")";
  return message;
}

void CudaDriver::check(Result result, const char *call, const std::string &what,
                       mbrt_status status) const {
  if (result != success)
    fail(status, what + ": " + describe(call, result));
}

} // namespace cuda
} // namespace mbrt
