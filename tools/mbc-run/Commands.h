//===- Commands.h - the subcommands of mbc-run and what they share -*- C++
//-*-===//
#ifndef MBC_RUN_COMMANDS_H
#define MBC_RUN_COMMANDS_H

#include "Arguments.h"

#include "mbrt/mbrt.h"

#include <stdexcept>
#include <string>
#include <vector>

namespace mbc_run {

/// A failure at run time (not of the command line): message, exit status 1.
class RuntimeFailure : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// Options every model-loading subcommand accepts.
extern const std::vector<std::string> commonValuedOptions;

/// How LoadedSession loads a model.
enum class LoadPurpose {
  Run,     ///< on --device, with a session
  Inspect, ///< on --device without a session; with --device=auto, where
           ///< the model cannot run here (no device, a CPU lacking its
           ///< features, no image for this GPU), inspection only
           ///< (MBRT_DEVICE_NONE), saying why in `unloadedReason`
};

/// A loaded model and one session on it, freed together.
class LoadedSession {
public:
  /// Reads --device, --weights and --threads from `arguments`; throws
  /// UsageError for bad values and RuntimeFailure when loading fails.
  LoadedSession(const std::string &path, const Arguments &arguments,
                LoadPurpose purpose = LoadPurpose::Run);
  ~LoadedSession();
  LoadedSession(const LoadedSession &) = delete;
  LoadedSession &operator=(const LoadedSession &) = delete;

  mbrt_model *model = nullptr;
  mbrt_session *session = nullptr; ///< null for LoadPurpose::Inspect
  /// LoadPurpose::Inspect: why the model could not be loaded for --device
  /// ("" when it was).
  std::string unloadedReason;
};

/// The whole file; RuntimeFailure naming it when it cannot be read.
std::vector<uint8_t> readFile(const std::string &path);

/// The single positional argument MODEL.mbx; UsageError otherwise.
std::string modelPath(const Arguments &arguments);

int runScore(int argc, char **argv);
int runGenerate(int argc, char **argv);
int runInfo(int argc, char **argv);
int runBench(int argc, char **argv);

} // namespace mbc_run

#endif // MBC_RUN_COMMANDS_H
