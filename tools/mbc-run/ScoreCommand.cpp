//===- ScoreCommand.cpp - mbc-run score: bits per byte of a file ----------===//
#include "Commands.h"
#include "NpyWriter.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <unistd.h>

namespace mbc_run {
namespace {

/// A one-line progress bar on stderr, drawn only when stderr is a terminal
/// (so logs and pipes stay clean).
class ProgressBar {
public:
  explicit ProgressBar(size_t total)
      : total_(total), enabled_(::isatty(STDERR_FILENO) == 1),
        start_(std::chrono::steady_clock::now()) {}
  ~ProgressBar() { clear(); }
  /// Erases the bar, so the result prints on a clean line.
  void clear() {
    if (enabled_ && drawn_)
      std::fputs("\r\033[K", stderr);
    drawn_ = false;
  }
  void update(size_t done) {
    if (!enabled_)
      return;
    drawn_ = true;
    constexpr int width = 30;
    int filled = total_ ? static_cast<int>(width * done / total_) : width;
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_)
            .count();
    std::fprintf(stderr, "\r[%.*s%*s] %3d%% %.1f KB/s", filled,
                 "##############################", width - filled, "",
                 total_ ? static_cast<int>(100 * done / total_) : 100,
                 seconds > 0 ? done / seconds / 1024 : 0.0);
    std::fflush(stderr);
  }

private:
  size_t total_;
  bool enabled_, drawn_ = false;
  std::chrono::steady_clock::time_point start_, lastDrawn_;
};

} // namespace

int runScore(int argc, char **argv) {
  std::vector<std::string> valued = commonValuedOptions;
  valued.insert(valued.end(), {"--input", "--dump-logprobs"});
  Arguments arguments({"--json"}, valued);
  arguments.parse(argc, argv, 2);
  std::string path = modelPath(arguments);
  if (!arguments.has("--input"))
    throw UsageError("score needs --input FILE");
  LoadedSession loaded(path, arguments);
  std::vector<uint8_t> input = readFile(arguments.text("--input", ""));

  const int64_t window = mbrt_model_score_window(loaded.model);
  const int64_t batch = mbrt_model_score_batch(loaded.model);
  const size_t vocab = static_cast<size_t>(mbrt_model_vocab_size(loaded.model));
  if (window <= 0)
    throw RuntimeFailure(path + ": the artifact has no \"score\" entry point");
  // Windows are independent, so scoring whole batches of windows one call
  // at a time gives the same numbers as one call, with progress and a
  // bounded buffer for --dump-logprobs.
  const size_t chunk = static_cast<size_t>(window * batch);
  std::string dumpPath = arguments.text("--dump-logprobs", "");
  NpyWriter dump;
  std::string error;
  if (!dumpPath.empty() && !dump.open(dumpPath,
                                      {static_cast<int64_t>(input.size()),
                                       static_cast<int64_t>(vocab)},
                                      error))
    throw RuntimeFailure(error);

  std::vector<float> byteLogprobs(chunk);
  std::vector<float> rows(dumpPath.empty() ? 0 : chunk * vocab);
  double totalLogprob = 0;
  ProgressBar progress(input.size());
  auto start = std::chrono::steady_clock::now();
  for (size_t first = 0; first < input.size(); first += chunk) {
    size_t size = std::min(chunk, input.size() - first);
    if (mbrt_session_score(
            loaded.session, input.data() + first, size, byteLogprobs.data(),
            rows.empty() ? nullptr : rows.data(), nullptr) != MBRT_OK)
      throw RuntimeFailure(mbrt_session_error(loaded.session));
    for (size_t i = 0; i < size; ++i)
      totalLogprob += byteLogprobs[i];
    if (!rows.empty() && !dump.append(rows.data(), size * vocab, error))
      throw RuntimeFailure(error);
    progress.update(first + size);
  }
  progress.clear();
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  if (!dumpPath.empty() && !dump.finish(error))
    throw RuntimeFailure(error);

  const size_t windows = (input.size() + window - 1) / window;
  const double bitsPerByte =
      input.empty() ? 0.0
                    : -totalLogprob / (double(input.size()) * std::log(2.0));
  if (arguments.has("--json")) {
    nlohmann::json report = {
        {"model", path},
        {"device", mbrt_model_device_description(loaded.model)},
        {"input", arguments.text("--input", "")},
        {"bytes", input.size()},
        {"bits_per_byte", bitsPerByte},
        {"windows", windows},
        {"window_bytes", window},
        {"threads", mbrt_session_threads(loaded.session)},
        {"seconds", seconds}};
    std::printf("%s\n", report.dump().c_str());
  } else {
    std::printf("%.6f bits per byte (%zu bytes, %zu window%s of %lld)\n",
                bitsPerByte, input.size(), windows, windows == 1 ? "" : "s",
                static_cast<long long>(window));
  }
  return 0;
}

} // namespace mbc_run
