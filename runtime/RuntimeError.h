//===- RuntimeError.h - the one error type inside libmbrt -------*- C++ -*-===//
//
// Inside the runtime a failure is a thrown RuntimeError carrying the public
// status and a message that names the file, section, JSON key or tensor. The
// C API (CApi.cpp) catches it at the boundary; nothing escapes to callers.
//
//===----------------------------------------------------------------------===//
#ifndef MBRT_RUNTIMEERROR_H
#define MBRT_RUNTIMEERROR_H

#include "mbrt/mbrt.h"

#include <stdexcept>
#include <string>

namespace mbrt {

class RuntimeError : public std::runtime_error {
public:
  RuntimeError(mbrt_status status, const std::string &message)
      : std::runtime_error(message), status_(status) {}
  mbrt_status status() const { return status_; }

private:
  mbrt_status status_;
};

[[noreturn]] inline void fail(mbrt_status status, const std::string &message) {
  throw RuntimeError(status, message);
}

} // namespace mbrt

#endif // MBRT_RUNTIMEERROR_H
