//===- ArtifactReader.h - header, section table and checksums of .mbx -*- C++
//-*-===//
//
// Validates the container of docs/artifact.md over a mapped file: magic,
// version, sizes, the section table and every section's FNV-1a checksum. It
// knows nothing of META's contents (ModelMetadata does).
//
//===----------------------------------------------------------------------===//
#ifndef MBRT_ARTIFACTREADER_H
#define MBRT_ARTIFACTREADER_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace mbrt {

struct ArtifactSection {
  uint32_t kind = 0;
  const uint8_t *data = nullptr;
  uint64_t offset = 0;
  uint64_t size = 0;
};

struct ArtifactContainer {
  uint32_t formatVersion = 0;
  std::vector<ArtifactSection> sections;

  /// The section of `kind`, or null when the artifact has none.
  const ArtifactSection *find(uint32_t kind) const;
};

/// Validates `size` bytes of an artifact named `path` (for messages) and
/// returns its sections. Throws RuntimeError: MBRT_ERROR_FORMAT for a
/// malformed file, MBRT_ERROR_UNSUPPORTED_VERSION for a newer format.
ArtifactContainer readArtifactContainer(const std::string &path,
                                        const uint8_t *data, size_t size);

/// "META", "CPU_CODE", ... or "section kind N".
std::string sectionKindName(uint32_t kind);

} // namespace mbrt

#endif // MBRT_ARTIFACTREADER_H
