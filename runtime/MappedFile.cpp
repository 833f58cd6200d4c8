//===- MappedFile.cpp - a read-only memory map of a whole file ------------===//
#include "MappedFile.h"
#include "RuntimeError.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace mbrt {

MappedFile::MappedFile(const std::string &path) : path_(path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    fail(MBRT_ERROR_IO, path + ": cannot open: " + std::strerror(errno));
  struct stat info;
  if (::fstat(fd, &info) != 0) {
    int error = errno;
    ::close(fd);
    fail(MBRT_ERROR_IO, path + ": cannot stat: " + std::strerror(error));
  }
  if (!S_ISREG(info.st_mode)) {
    ::close(fd);
    fail(MBRT_ERROR_IO, path + ": cannot read: " +
                            (S_ISDIR(info.st_mode) ? "is a directory"
                                                   : "is not a regular file"));
  }
  size_ = static_cast<size_t>(info.st_size);
  if (size_ > 0) {
    void *mapped = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (mapped == MAP_FAILED) {
      int error = errno;
      ::close(fd);
      fail(MBRT_ERROR_IO, path + ": cannot map: " + std::strerror(error));
    }
    data_ = static_cast<const uint8_t *>(mapped);
  }
  ::close(fd); // the mapping keeps the file alive
}

MappedFile::~MappedFile() {
  if (data_)
    ::munmap(const_cast<uint8_t *>(data_), size_);
}

} // namespace mbrt
