//===- NpyWriter.cpp - streams a float32 array to a NumPy .npy file -------===//
#include "NpyWriter.h"

#include <cerrno>
#include <cstring>

namespace mbc_run {

std::string npyFloat32Header(const std::vector<int64_t> &shape) {
  std::string dims;
  for (int64_t dim : shape)
    dims += std::to_string(dim) + ", ";
  if (shape.size() > 1)
    dims.resize(dims.size() - 2); // (T, V); a 1-tuple keeps its comma: (T,)
  else if (!shape.empty())
    dims.resize(dims.size() - 1);
  std::string dict =
      "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
  const size_t prefix = 10; // magic, version, header length
  size_t total = prefix + dict.size() + 1;
  size_t padded = (total + 63) / 64 * 64;
  dict.append(padded - total, ' ');
  dict += '\n';
  std::string header = "\x93NUMPY";
  header += '\x01';
  header += '\x00';
  uint16_t length = static_cast<uint16_t>(dict.size());
  header += static_cast<char>(length & 0xff);
  header += static_cast<char>(length >> 8);
  return header + dict;
}

NpyWriter::~NpyWriter() {
  if (file_) {
    std::fclose(file_);
    std::remove(temporaryPath_.c_str());
  }
}

bool NpyWriter::open(const std::string &path, const std::vector<int64_t> &shape,
                     std::string &error) {
  path_ = path;
  temporaryPath_ = path + ".tmp";
  file_ = std::fopen(temporaryPath_.c_str(), "wb");
  if (!file_) {
    error = temporaryPath_ + ": cannot create: " + std::strerror(errno);
    return false;
  }
  expected_ = 1;
  for (int64_t dim : shape)
    expected_ *= static_cast<uint64_t>(dim);
  std::string header = npyFloat32Header(shape);
  if (std::fwrite(header.data(), 1, header.size(), file_) != header.size()) {
    error = temporaryPath_ + ": write failed: " + std::strerror(errno);
    return false;
  }
  return true;
}

bool NpyWriter::append(const float *values, size_t count, std::string &error) {
  if (written_ + count > expected_) {
    error = path_ + ": more elements than the shape holds";
    return false;
  }
  // x86-64 is little-endian, as '<f4' says.
  if (std::fwrite(values, sizeof(float), count, file_) != count) {
    error = temporaryPath_ + ": write failed: " + std::strerror(errno);
    return false;
  }
  written_ += count;
  return true;
}

bool NpyWriter::finish(std::string &error) {
  if (written_ != expected_) {
    error = path_ + ": " + std::to_string(written_) + " elements written, " +
            std::to_string(expected_) + " expected";
    return false;
  }
  bool closed = std::fclose(file_) == 0;
  file_ = nullptr;
  if (!closed || std::rename(temporaryPath_.c_str(), path_.c_str()) != 0) {
    error = path_ + ": cannot finish writing: " + std::strerror(errno);
    std::remove(temporaryPath_.c_str());
    return false;
  }
  return true;
}

} // namespace mbc_run
