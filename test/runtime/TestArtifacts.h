//===- TestArtifacts.h - builds test-only artifacts, records fake calls -*- C++
//-*-===//
//
// TEST ONLY. Runs make_test_artifact.py (Debian's python3) to write
// artifacts around the fake entry points of fake_entries.c, and collects
// the calls those fake entries report through mbrt_test_record_call.
//
//===----------------------------------------------------------------------===//
#ifndef MBRT_TEST_TESTARTIFACTS_H
#define MBRT_TEST_TESTARTIFACTS_H

#include "mbrt/mbrt.h"

#include <cstdint>
#include <string>
#include <vector>

namespace mbrt_test {

/// One call of a fake entry point, decoded from its args array.
struct RecordedCall {
  std::string entry;          // "step_1", "head", ...
  int64_t position = -1;      // embed_s / step_s
  std::vector<int32_t> unit;  // embed_s
  float contextTag = 0;       // step_s: context[2] (see fake_entries.c)
  bool stateClean = false;    // step_s: caches and shift all zero on entry
  std::vector<int32_t> bytes; // score: the whole bytes buffer
  std::vector<float> dims;    // every entry: its "<entry>.dims" weight
  void **args = nullptr;      // valid only during the call
};

/// Calls recorded since the last clear (thread-safe).
std::vector<RecordedCall> recordedCalls();
void clearRecordedCalls();
/// "e0@0 s0@0 p0 h ...": entry initial, stage, position, in call order.
std::string compactCallSequence(const std::vector<RecordedCall> &calls);

/// A fresh temporary folder, removed at exit of the test program.
std::string temporaryFolder();

/// Writes `name` in a fresh folder with make_test_artifact.py `options`
/// and returns its path; fails the current test if the script fails.
std::string makeArtifact(const std::string &name,
                         const std::vector<std::string> &options = {});

/// Loads `path`; returns the status and fills `message`.
mbrt_status tryLoad(const std::string &path, std::string &message,
                    const mbrt_model_options *options = nullptr);

/// RAII model + session for tests.
struct LoadedModel {
  explicit LoadedModel(const std::string &path, int threads = 2,
                       const char *weightsPath = nullptr);
  ~LoadedModel();
  mbrt_model *model = nullptr;
  mbrt_session *session = nullptr;
};

} // namespace mbrt_test

#endif // MBRT_TEST_TESTARTIFACTS_H
