//===- ArtifactReader.cpp - header, section table and checksums of .mbx ---===//
#include "ArtifactReader.h"
#include "RuntimeError.h"

#include "mbc/ArtifactFormat.h"

#include <cstdio>
#include <cstring>

namespace mbrt {
namespace {

uint32_t readU32(const uint8_t *at) {
  uint32_t value;
  std::memcpy(&value, at, sizeof value); // the format and x86-64 are LE
  return value;
}

uint64_t readU64(const uint8_t *at) {
  uint64_t value;
  std::memcpy(&value, at, sizeof value);
  return value;
}

std::string hex(uint64_t value) {
  char text[19];
  std::snprintf(text, sizeof text, "0x%016llx",
                static_cast<unsigned long long>(value));
  return text;
}

/// True when [offset, offset + size) lies inside [0, limit), without
/// overflowing.
bool inRange(uint64_t offset, uint64_t size, uint64_t limit) {
  return offset <= limit && size <= limit - offset;
}

} // namespace

std::string sectionKindName(uint32_t kind) {
  switch (kind) {
  case MBX_SECTION_META:
    return "META";
  case MBX_SECTION_CPU_CODE:
    return "CPU_CODE";
  case MBX_SECTION_WEIGHTS:
    return "WEIGHTS";
  case MBX_SECTION_CUDA_CODE:
    return "CUDA_CODE";
  default:
    return "section kind " + std::to_string(kind);
  }
}

const ArtifactSection *ArtifactContainer::find(uint32_t kind) const {
  for (const ArtifactSection &section : sections)
    if (section.kind == kind)
      return &section;
  return nullptr;
}

ArtifactContainer readArtifactContainer(const std::string &path,
                                        const uint8_t *data, size_t size) {
  auto formatError = [&](const std::string &message) {
    fail(MBRT_ERROR_FORMAT, path + ": " + message);
  };
  if (size < MBX_HEADER_SIZE)
    formatError("not an mbc artifact: " + std::to_string(size) +
                " bytes is shorter than the " +
                std::to_string(MBX_HEADER_SIZE) + "-byte header");
  if (std::memcmp(data, MBX_MAGIC, MBX_MAGIC_SIZE) != 0)
    formatError("not an mbc artifact: wrong magic (expected \"MBX\\0\\r\\n"
                "\\x1a\\n\" at offset 0)");

  ArtifactContainer container;
  container.formatVersion = readU32(data + 8);
  if (container.formatVersion > MBX_FORMAT_VERSION)
    fail(MBRT_ERROR_UNSUPPORTED_VERSION,
         path + ": artifact format version " +
             std::to_string(container.formatVersion) +
             " is newer than this runtime's " +
             std::to_string(MBX_FORMAT_VERSION) +
             ": update libmbrt or recompile the model with a matching mbc");
  if (container.formatVersion == 0)
    formatError("header: format version 0 is not valid");
  uint32_t headerSize = readU32(data + 12);
  uint32_t sectionCount = readU32(data + 16);
  uint32_t flags = readU32(data + 20);
  uint64_t fileSize = readU64(data + 24);
  uint64_t tableOffset = readU64(data + 32);
  uint64_t tableChecksum = readU64(data + 40);
  if (headerSize != MBX_HEADER_SIZE)
    formatError("header: header_size is " + std::to_string(headerSize) +
                ", expected " + std::to_string(MBX_HEADER_SIZE));
  if (flags != 0)
    formatError("header: unknown flags " + hex(flags));
  if (fileSize != size)
    formatError(fileSize > size
                    ? "truncated: the header says " + std::to_string(fileSize) +
                          " bytes, the file has " + std::to_string(size)
                    : "file_size is " + std::to_string(fileSize) +
                          " bytes but the file has " + std::to_string(size) +
                          " (trailing data)");

  uint64_t tableSize = uint64_t(sectionCount) * MBX_SECTION_ENTRY_SIZE;
  if (tableOffset < MBX_HEADER_SIZE || !inRange(tableOffset, tableSize, size))
    formatError("section table (offset " + std::to_string(tableOffset) + ", " +
                std::to_string(sectionCount) +
                " entries) lies outside the file of " + std::to_string(size) +
                " bytes");
  const uint8_t *table = data + tableOffset;
  uint64_t actualTableChecksum = mbx_fnv1a(MBX_FNV_OFFSET, table, tableSize);
  if (actualTableChecksum != tableChecksum)
    formatError("section table checksum mismatch: header says " +
                hex(tableChecksum) + ", table hashes to " +
                hex(actualTableChecksum));

  for (uint32_t i = 0; i < sectionCount; ++i) {
    const uint8_t *entry = table + uint64_t(i) * MBX_SECTION_ENTRY_SIZE;
    ArtifactSection section;
    section.kind = readU32(entry);
    section.offset = readU64(entry + 8);
    section.size = readU64(entry + 16);
    uint64_t checksum = readU64(entry + 24);
    std::string name = sectionKindName(section.kind) +
                       " section (table entry " + std::to_string(i) + ")";
    if (readU32(entry + 4) != 0)
      formatError(name + ": unknown flags " + hex(readU32(entry + 4)));
    if (section.offset < MBX_HEADER_SIZE ||
        !inRange(section.offset, section.size, size))
      formatError(name + ": bytes [" + std::to_string(section.offset) + ", +" +
                  std::to_string(section.size) + ") lie outside the file of " +
                  std::to_string(size) + " bytes");
    if (section.offset % MBX_ALIGNMENT != 0)
      formatError(name + ": offset " + std::to_string(section.offset) +
                  " is not " + std::to_string(MBX_ALIGNMENT) + "-byte aligned");
    if (container.find(section.kind))
      formatError(name + ": a second " + sectionKindName(section.kind) +
                  " section");
    section.data = data + section.offset;
    uint64_t actual = mbx_fnv1a(MBX_FNV_OFFSET, section.data, section.size);
    if (actual != checksum)
      formatError(sectionKindName(section.kind) +
                  " section checksum mismatch: the table says " +
                  hex(checksum) + ", the bytes hash to " + hex(actual) +
                  " (corrupt file)");
    container.sections.push_back(section);
  }
  if (!container.find(MBX_SECTION_META))
    formatError("no META section");
  if (!container.find(MBX_SECTION_CPU_CODE) &&
      !container.find(MBX_SECTION_CUDA_CODE))
    formatError("no code section (CPU_CODE or CUDA_CODE)");
  return container;
}

} // namespace mbrt
