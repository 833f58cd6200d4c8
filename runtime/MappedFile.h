//===- MappedFile.h - a read-only memory map of a whole file ----*- C++ -*-===//
#ifndef MBRT_MAPPEDFILE_H
#define MBRT_MAPPEDFILE_H

#include <cstddef>
#include <cstdint>
#include <string>

namespace mbrt {

/// Maps `path` read-only for the object's lifetime. Throws RuntimeError
/// (MBRT_ERROR_IO) naming the path when it cannot be opened or mapped.
class MappedFile {
public:
  explicit MappedFile(const std::string &path);
  ~MappedFile();
  MappedFile(const MappedFile &) = delete;
  MappedFile &operator=(const MappedFile &) = delete;

  const uint8_t *data() const { return data_; }
  size_t size() const { return size_; }
  const std::string &path() const { return path_; }

private:
  std::string path_;
  const uint8_t *data_ = nullptr;
  size_t size_ = 0;
};

} // namespace mbrt

#endif // MBRT_MAPPEDFILE_H
