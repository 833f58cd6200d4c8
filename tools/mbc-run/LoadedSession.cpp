//===- LoadedSession.cpp - model loading shared by the subcommands --------===//
#include "Commands.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

namespace mbc_run {

const std::vector<std::string> commonValuedOptions = {"--device", "--weights",
                                                      "--threads"};

LoadedSession::LoadedSession(const std::string &path,
                             const Arguments &arguments, LoadPurpose purpose) {
  mbrt_model_options options = mbrt_model_default_options();
  std::string device = arguments.text("--device", "auto");
  if (device == "cpu")
    options.device = MBRT_DEVICE_CPU;
  else if (device == "cuda")
    options.device = MBRT_DEVICE_CUDA;
  else if (device == "auto")
    options.device = MBRT_DEVICE_AUTO;
  else
    throw UsageError("--device must be cpu, cuda or auto, got \"" + device +
                     "\"");
  std::string weights = arguments.text("--weights", "");
  if (!weights.empty())
    options.weights_path = weights.c_str();
  mbrt_session_options sessionOptions = mbrt_session_default_options();
  sessionOptions.threads =
      static_cast<int32_t>(arguments.integer("--threads", 0, 0, 4096));

  // A throwing constructor runs no destructor: free what was made first.
  mbrt_status status = mbrt_model_load(path.c_str(), &options, &model);
  // Inspecting with --device=auto: an artifact that cannot run here (no
  // device for its CUDA-only code, a CPU lacking its features, no image
  // for this GPU) is still described. An explicit --device must load.
  if (status != MBRT_OK && purpose == LoadPurpose::Inspect &&
      options.device == MBRT_DEVICE_AUTO &&
      (status == MBRT_ERROR_NO_DEVICE || status == MBRT_ERROR_UNSUPPORTED)) {
    unloadedReason = mbrt_model_error(model);
    mbrt_model_free(model);
    model = nullptr;
    options.device = MBRT_DEVICE_NONE;
    status = mbrt_model_load(path.c_str(), &options, &model);
  }
  if (status != MBRT_OK) {
    std::string message = mbrt_model_error(model);
    mbrt_model_free(model);
    throw RuntimeFailure(message);
  }
  if (purpose == LoadPurpose::Inspect)
    return;
  if (mbrt_session_create(model, &sessionOptions, &session) != MBRT_OK) {
    std::string message = mbrt_session_error(session);
    mbrt_session_free(session);
    mbrt_model_free(model);
    throw RuntimeFailure(message);
  }
}

LoadedSession::~LoadedSession() {
  mbrt_session_free(session);
  mbrt_model_free(model);
}

std::vector<uint8_t> readFile(const std::string &path) {
  std::ifstream file(path, std::ios::binary);
  if (!file)
    throw RuntimeFailure(path + ": cannot open: " + std::strerror(errno));
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(file)),
                             std::istreambuf_iterator<char>());
  if (file.bad())
    throw RuntimeFailure(path + ": read failed");
  return bytes;
}

std::string modelPath(const Arguments &arguments) {
  const std::vector<std::string> &positionals = arguments.positionals();
  if (positionals.empty())
    throw UsageError("missing MODEL.mbx");
  if (positionals.size() > 1)
    throw UsageError("unexpected argument \"" + positionals[1] + "\"");
  return positionals[0];
}

} // namespace mbc_run
