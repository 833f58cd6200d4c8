//===- NpyWriter.h - streams a float32 array to a NumPy .npy file -*- C++
//-*-===//
//
// Format 1.0: "\x93NUMPY", version 1.0, a little-endian u16 header length,
// then a Python dict literal {'descr': '<f4', 'fortran_order': False,
// 'shape': (...), } padded with spaces and a newline so the data starts at
// a multiple of 64 bytes, then the row-major data.
//
//===----------------------------------------------------------------------===//
#ifndef MBC_RUN_NPYWRITER_H
#define MBC_RUN_NPYWRITER_H

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace mbc_run {

/// The header of a little-endian float32 .npy v1.0 file of `shape`.
std::string npyFloat32Header(const std::vector<int64_t> &shape);

/// Writes the array in pieces to PATH.tmp and renames it to PATH when all
/// elements are in, so a failed run leaves no partial file behind.
class NpyWriter {
public:
  NpyWriter() = default;
  ~NpyWriter();
  NpyWriter(const NpyWriter &) = delete;
  NpyWriter &operator=(const NpyWriter &) = delete;

  /// Each returns false with `error` set (naming the path) on failure.
  bool open(const std::string &path, const std::vector<int64_t> &shape,
            std::string &error);
  bool append(const float *values, size_t count, std::string &error);
  bool finish(std::string &error);

private:
  std::string path_, temporaryPath_;
  std::FILE *file_ = nullptr;
  uint64_t expected_ = 0, written_ = 0;
};

} // namespace mbc_run

#endif // MBC_RUN_NPYWRITER_H
