//===- CodeLoader.cpp - loads compiled code from memory -------------------===//
#include "CodeLoader.h"
#include "RuntimeError.h"

#include <cerrno>
#include <cstring>
#include <dlfcn.h>
#include <sys/mman.h>
#include <unistd.h>

namespace mbrt {

LoadedCode::LoadedCode(const std::string &what, const uint8_t *data,
                       size_t size) {
  static const uint8_t elfMagic[4] = {0x7f, 'E', 'L', 'F'};
  if (size < sizeof elfMagic || std::memcmp(data, elfMagic, 4) != 0)
    fail(MBRT_ERROR_CODE, what + ": not an ELF shared object");
  memoryFile_ = ::memfd_create("mbrt-cpu-code", MFD_CLOEXEC);
  if (memoryFile_ < 0)
    fail(MBRT_ERROR_CODE,
         what + ": memfd_create failed: " + std::strerror(errno));
  for (size_t written = 0; written < size;) {
    ssize_t count = ::write(memoryFile_, data + written, size - written);
    if (count < 0 && errno == EINTR)
      continue;
    if (count <= 0) {
      int error = errno;
      ::close(memoryFile_);
      fail(MBRT_ERROR_CODE,
           what + ": cannot write to a memory file: " + std::strerror(error));
    }
    written += static_cast<size_t>(count);
  }
  std::string path = "/proc/self/fd/" + std::to_string(memoryFile_);
  handle_ = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle_) {
    const char *reason = ::dlerror();
    ::close(memoryFile_);
    fail(MBRT_ERROR_CODE, what + ": cannot load the shared object: " +
                              (reason ? reason : "unknown dlopen error"));
  }
}

LoadedCode::~LoadedCode() {
  if (handle_)
    ::dlclose(handle_);
  if (memoryFile_ >= 0)
    ::close(memoryFile_);
}

void *LoadedCode::find(const std::string &symbol) const {
  return ::dlsym(handle_, symbol.c_str());
}

} // namespace mbrt
