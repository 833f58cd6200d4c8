//===- BenchCommand.cpp - mbc-run bench: time scoring and generation ------===//
//
// Medians over repeats of the library calls alone (the model is loaded and
// warmed up first). The PyTorch side of the comparison is a separate script.
//
//===----------------------------------------------------------------------===//
#include "Commands.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>

namespace mbc_run {
namespace {

struct Timing {
  double medianSeconds = 0, minimumSeconds = 0;
};

template <typename Body> Timing time(int warmups, int repeats, Body body) {
  for (int i = 0; i < warmups; ++i)
    body();
  std::vector<double> seconds;
  for (int i = 0; i < repeats; ++i) {
    auto start = std::chrono::steady_clock::now();
    body();
    seconds.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count());
  }
  std::sort(seconds.begin(), seconds.end());
  Timing timing;
  size_t middle = seconds.size() / 2;
  timing.medianSeconds = seconds.size() % 2
                             ? seconds[middle]
                             : (seconds[middle - 1] + seconds[middle]) / 2;
  timing.minimumSeconds = seconds.front();
  return timing;
}

} // namespace

int runBench(int argc, char **argv) {
  std::vector<std::string> valued = commonValuedOptions;
  valued.insert(valued.end(),
                {"--input", "--bytes", "--generate", "--repeat", "--warmup"});
  Arguments arguments({"--json"}, valued);
  arguments.parse(argc, argv, 2);
  std::string path = modelPath(arguments);
  if (arguments.has("--input") && arguments.has("--bytes"))
    throw UsageError("give --input FILE or --bytes N, not both");
  int repeats = static_cast<int>(arguments.integer("--repeat", 5, 1, 1000));
  int warmups = static_cast<int>(arguments.integer("--warmup", 1, 0, 1000));
  int64_t generateCount =
      arguments.integer("--generate", 256, 0, int64_t(1) << 30);
  int64_t byteCount = arguments.integer("--bytes", 0, 1, int64_t(1) << 34);
  LoadedSession loaded(path, arguments);

  std::vector<uint8_t> input;
  if (arguments.has("--input")) {
    input = readFile(arguments.text("--input", ""));
  } else {
    // Deterministic pseudo-random bytes inside the vocabulary.
    if (byteCount == 0)
      byteCount = std::max<int64_t>(mbrt_model_score_window(loaded.model), 1);
    uint32_t state = 12345;
    int32_t vocab = mbrt_model_vocab_size(loaded.model);
    input.resize(byteCount);
    for (uint8_t &byte : input) {
      state = state * 1664525u + 1013904223u;
      byte = static_cast<uint8_t>((state >> 24) % std::min(vocab, 256));
    }
  }

  nlohmann::json report = {
      {"model", path},
      {"device", mbrt_model_device_description(loaded.model)},
      {"threads", mbrt_session_threads(loaded.session)},
      {"repeats", repeats}};
  if (mbrt_model_score_window(loaded.model) > 0) {
    mbrt_status status = MBRT_OK;
    Timing timing = time(warmups, repeats, [&] {
      status = mbrt_session_score(loaded.session, input.data(), input.size(),
                                  nullptr, nullptr, nullptr);
    });
    if (status != MBRT_OK)
      throw RuntimeFailure(mbrt_session_error(loaded.session));
    report["score"] = {
        {"bytes", input.size()},
        {"median_seconds", timing.medianSeconds},
        {"min_seconds", timing.minimumSeconds},
        {"bytes_per_second", input.size() / timing.medianSeconds}};
  }
  if (generateCount > 0 && mbrt_model_can_generate(loaded.model)) {
    generateCount =
        std::min<int64_t>(generateCount, mbrt_model_max_length(loaded.model));
    mbrt_sampler_options greedy = mbrt_sampler_default_options();
    mbrt_status status = MBRT_OK;
    Timing timing = time(warmups, repeats, [&] {
      status = mbrt_session_generate(
          loaded.session, nullptr, 0, static_cast<size_t>(generateCount),
          &greedy, nullptr, nullptr, nullptr, nullptr);
    });
    if (status != MBRT_OK)
      throw RuntimeFailure(mbrt_session_error(loaded.session));
    report["generate"] = {
        {"bytes", generateCount},
        {"sampler", "greedy"},
        {"median_seconds", timing.medianSeconds},
        {"min_seconds", timing.minimumSeconds},
        {"bytes_per_second", generateCount / timing.medianSeconds}};
  }
  if (arguments.has("--json")) {
    std::printf("%s\n", report.dump().c_str());
    return 0;
  }
  std::printf("%s on %s, %d threads, median of %d\n", path.c_str(),
              mbrt_model_device_description(loaded.model),
              mbrt_session_threads(loaded.session), repeats);
  if (report.contains("score"))
    std::printf("  score:    %zu bytes in %.4f s: %.0f bytes/s\n", input.size(),
                report["score"]["median_seconds"].get<double>(),
                report["score"]["bytes_per_second"].get<double>());
  if (report.contains("generate"))
    std::printf("  generate: %lld bytes in %.4f s: %.1f bytes/s (greedy, "
                "KV-cached)\n",
                static_cast<long long>(generateCount),
                report["generate"]["median_seconds"].get<double>(),
                report["generate"]["bytes_per_second"].get<double>());
  return 0;
}

} // namespace mbc_run
