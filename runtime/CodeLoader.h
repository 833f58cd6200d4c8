//===- CodeLoader.h - loads compiled code from memory ------------*- C++
//-*-===//
//
// CPU_CODE is an ELF shared object. It is written to an anonymous memory file
// (memfd_create) and dlopen'ed through /proc/self/fd/N, so no file touches
// the disk and nothing needs cleaning up after a crash.
//
//===----------------------------------------------------------------------===//
#ifndef MBRT_CODELOADER_H
#define MBRT_CODELOADER_H

#include <cstddef>
#include <cstdint>
#include <string>

namespace mbrt {

class LoadedCode {
public:
  /// Loads `size` bytes of ELF shared object. `what` names the code in
  /// messages (e.g. "model.mbx: CPU_CODE section"). Throws RuntimeError
  /// (MBRT_ERROR_CODE).
  LoadedCode(const std::string &what, const uint8_t *data, size_t size);
  ~LoadedCode();
  LoadedCode(const LoadedCode &) = delete;
  LoadedCode &operator=(const LoadedCode &) = delete;

  /// The address of `symbol`, or null when the object does not define it.
  void *find(const std::string &symbol) const;

private:
  int memoryFile_ = -1;
  void *handle_ = nullptr;
};

} // namespace mbrt

#endif // MBRT_CODELOADER_H
