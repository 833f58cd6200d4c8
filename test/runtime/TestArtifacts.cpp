//===- TestArtifacts.cpp - builds test-only artifacts, records fake calls -===//
#include "TestArtifacts.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <sstream>
#include <unistd.h>

namespace mbrt_test {
namespace {

std::mutex recordMutex;
std::vector<RecordedCall> calls;

bool startsWith(const std::string &text, const char *prefix) {
  return text.rfind(prefix, 0) == 0;
}

bool allZero(const float *values, int64_t count) {
  for (int64_t i = 0; i < count; ++i)
    if (values[i] != 0)
      return false;
  return true;
}

std::string shellQuote(const std::string &text) {
  std::string quoted = "'";
  for (char c : text)
    quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

} // namespace

std::vector<RecordedCall> recordedCalls() {
  std::lock_guard<std::mutex> lock(recordMutex);
  return calls;
}

void clearRecordedCalls() {
  std::lock_guard<std::mutex> lock(recordMutex);
  calls.clear();
}

std::string compactCallSequence(const std::vector<RecordedCall> &sequence) {
  std::string text;
  for (const RecordedCall &call : sequence) {
    if (!text.empty())
      text += ' ';
    if (call.entry == "head") {
      text += 'h';
      continue;
    }
    text += call.entry[0];
    text += call.entry.substr(call.entry.find('_') + 1);
    if (call.position >= 0)
      text += '@' + std::to_string(call.position);
  }
  return text;
}

std::string temporaryFolder() {
  // Never destroyed: the atexit handler runs after static destructors.
  static const std::string *root = [] {
    char pattern[] = "/tmp/mbrt-test-XXXXXX";
    const char *made = ::mkdtemp(pattern);
    auto *path = new std::string(made ? made : "/tmp");
    if (made)
      std::atexit([] {
        std::string command = "rm -rf " + shellQuote(*root);
        if (std::system(command.c_str()) != 0)
          std::fprintf(stderr, "could not remove %s\n", root->c_str());
      });
    return path;
  }();
  static std::atomic<int> counter{0};
  std::string folder = *root + "/" + std::to_string(counter++);
  std::string command = "mkdir -p " + shellQuote(folder);
  EXPECT_EQ(std::system(command.c_str()), 0);
  return folder;
}

std::string makeArtifact(const std::string &name,
                         const std::vector<std::string> &options) {
  std::string path = temporaryFolder() + "/" + name;
  std::string command = shellQuote(MBRT_TEST_PYTHON) + " " +
                        shellQuote(MBRT_TEST_ARTIFACT_SCRIPT) + " --code " +
                        shellQuote(MBRT_TEST_FAKE_ENTRIES) + " -o " +
                        shellQuote(path);
  for (const std::string &option : options)
    command += " " + shellQuote(option);
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
  return path;
}

mbrt_status tryLoad(const std::string &path, std::string &message,
                    const mbrt_model_options *options) {
  mbrt_model *model = nullptr;
  mbrt_status status = mbrt_model_load(path.c_str(), options, &model);
  message = mbrt_model_error(model);
  mbrt_model_free(model);
  return status;
}

LoadedModel::LoadedModel(const std::string &path, int threads,
                         const char *weightsPath) {
  mbrt_model_options options = mbrt_model_default_options();
  options.weights_path = weightsPath;
  mbrt_status status = mbrt_model_load(path.c_str(), &options, &model);
  EXPECT_EQ(status, MBRT_OK) << mbrt_model_error(model);
  mbrt_session_options sessionOptions = mbrt_session_default_options();
  sessionOptions.threads = threads;
  status = mbrt_session_create(model, &sessionOptions, &session);
  EXPECT_EQ(status, MBRT_OK) << mbrt_session_error(session);
}

LoadedModel::~LoadedModel() {
  mbrt_session_free(session);
  mbrt_model_free(model);
}

} // namespace mbrt_test

using mbrt_test::RecordedCall;

/// Exported by the test executable; fake_entries.c finds it with dlsym.
// NOLINTBEGIN(readability-identifier-naming): a C name
extern "C" __attribute__((visibility("default"))) void
mbrt_test_record_call(const char *entry, void **args) {
  // NOLINTEND(readability-identifier-naming)
  RecordedCall call;
  call.entry = entry;
  call.args = args;
  const float *dims = static_cast<const float *>(args[1]);
  auto dim = [&](int i) { return static_cast<int64_t>(dims[i]); };
  if (mbrt_test::startsWith(call.entry, "embed_")) {
    call.dims.assign(dims, dims + 2);
    const int32_t *unit = static_cast<const int32_t *>(args[2]);
    call.unit.assign(unit, unit + dim(0));
    call.position = *static_cast<const int64_t *>(args[3]);
  } else if (mbrt_test::startsWith(call.entry, "step_")) {
    call.dims.assign(dims, dims + 4);
    int64_t width = dim(0), layers = dim(1), positions = dim(2),
            kvWidth = dim(3);
    call.contextTag = static_cast<const float *>(args[3])[2];
    call.position = *static_cast<const int64_t *>(args[4]);
    int64_t cacheSize = layers * positions * kvWidth;
    call.stateClean =
        mbrt_test::allZero(static_cast<const float *>(args[5]), cacheSize) &&
        mbrt_test::allZero(static_cast<const float *>(args[6]), cacheSize) &&
        mbrt_test::allZero(static_cast<const float *>(args[7]),
                           layers * 2 * width);
  } else if (mbrt_test::startsWith(call.entry, "project_")) {
    call.dims.assign(dims, dims + 4);
  } else if (call.entry == "head") {
    call.dims.assign(dims, dims + 2);
  } else if (call.entry == "score") {
    call.dims.assign(dims, dims + 3);
    const int32_t *bytes = static_cast<const int32_t *>(args[2]);
    call.bytes.assign(bytes, bytes + dim(0) * dim(1));
  }
  std::lock_guard<std::mutex> lock(mbrt_test::recordMutex);
  mbrt_test::calls.push_back(std::move(call));
}
