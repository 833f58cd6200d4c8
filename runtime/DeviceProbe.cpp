//===- DeviceProbe.cpp - is there a CUDA device here? ---------------------===//
#include "DeviceProbe.h"

#include <dlfcn.h>

namespace mbrt {

std::string probeCudaDevice() {
  void *driver = ::dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!driver) {
    const char *reason = ::dlerror();
    return std::string("no CUDA device: the CUDA driver libcuda.so.1 cannot "
                       "be loaded (") +
           (reason ? reason : "unknown reason") + ")";
  }
  using InitFunction = int (*)(unsigned);
  using CountFunction = int (*)(int *);
  auto init = reinterpret_cast<InitFunction>(::dlsym(driver, "cuInit"));
  auto count =
      reinterpret_cast<CountFunction>(::dlsym(driver, "cuDeviceGetCount"));
  std::string problem;
  int devices = 0;
  if (!init || !count)
    problem = "no CUDA device: libcuda.so.1 lacks cuInit/cuDeviceGetCount";
  else if (int error = init(0))
    problem = "no CUDA device: cuInit failed with CUDA error " +
              std::to_string(error);
  else if (int error = count(&devices))
    problem = "no CUDA device: cuDeviceGetCount failed with CUDA error " +
              std::to_string(error);
  else if (devices == 0)
    problem = "no CUDA device: the driver reports 0 devices";
  ::dlclose(driver);
  return problem;
}

} // namespace mbrt
