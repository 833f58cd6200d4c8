//===- GenerateCommand.cpp - mbc-run generate: stream sampled bytes -------===//
#include "Commands.h"

#include <cstdio>

namespace mbc_run {
namespace {

/// --greedy, or --temperature/--top-k/--top-p, or --gumbel-thres (with an
/// optional --temperature); greedy when none is given.
mbrt_sampler_options samplerFromArguments(const Arguments &arguments) {
  mbrt_sampler_options sampler = mbrt_sampler_default_options();
  bool sampling = arguments.has("--temperature") || arguments.has("--top-k") ||
                  arguments.has("--top-p");
  bool gumbel = arguments.has("--gumbel-thres");
  if (arguments.has("--greedy") && (sampling || gumbel))
    throw UsageError("--greedy cannot be combined with --temperature, "
                     "--top-k, --top-p or --gumbel-thres");
  if (gumbel && (arguments.has("--top-k") || arguments.has("--top-p")))
    throw UsageError("--gumbel-thres chooses its own top-k; it cannot be "
                     "combined with --top-k or --top-p");
  sampler.temperature = arguments.number("--temperature", 1.0);
  sampler.seed = arguments.unsignedInteger("--seed", 0);
  if (gumbel) {
    sampler.kind = MBRT_SAMPLER_TOP_K_GUMBEL;
    sampler.filter_thres = arguments.number("--gumbel-thres", 0.9);
  } else if (sampling) {
    sampler.kind = MBRT_SAMPLER_SAMPLE;
    sampler.top_k =
        static_cast<int32_t>(arguments.integer("--top-k", 0, 0, 1 << 24));
    sampler.top_p = arguments.number("--top-p", 1.0);
  }
  char message[256];
  const float probe[1] = {0};
  int32_t token;
  if (mbrt_sample(&sampler, probe, 1, 0, &token, message, sizeof message) !=
      MBRT_OK)
    throw UsageError(message);
  return sampler;
}

int writeByte(void *, uint8_t byte, int64_t) {
  std::fputc(byte, stdout);
  std::fflush(stdout); // stream: each byte is visible as soon as it exists
  return std::ferror(stdout) ? 1 : 0;
}

} // namespace

int runGenerate(int argc, char **argv) {
  std::vector<std::string> valued = commonValuedOptions;
  valued.insert(valued.end(),
                {"--prompt", "--prompt-file", "-n", "--temperature", "--top-k",
                 "--top-p", "--gumbel-thres", "--seed"});
  Arguments arguments({"--greedy"}, valued);
  arguments.parse(argc, argv, 2);
  std::string path = modelPath(arguments);
  if (arguments.has("--prompt") == arguments.has("--prompt-file"))
    throw UsageError("generate needs exactly one of --prompt TEXT and "
                     "--prompt-file FILE");
  if (!arguments.has("-n"))
    throw UsageError("generate needs -n N (bytes to generate)");
  int64_t count = arguments.integer("-n", 0, 0, int64_t(1) << 40);
  mbrt_sampler_options sampler = samplerFromArguments(arguments);
  LoadedSession loaded(path, arguments);
  std::vector<uint8_t> prompt;
  if (arguments.has("--prompt")) {
    std::string text = arguments.text("--prompt", "");
    prompt.assign(text.begin(), text.end());
  } else {
    prompt = readFile(arguments.text("--prompt-file", ""));
  }
  size_t generated = 0;
  mbrt_status status = mbrt_session_generate(
      loaded.session, prompt.data(), prompt.size(), static_cast<size_t>(count),
      &sampler, writeByte, nullptr, nullptr, &generated);
  if (std::ferror(stdout))
    throw RuntimeFailure("cannot write to standard output");
  if (status != MBRT_OK)
    throw RuntimeFailure(mbrt_session_error(loaded.session));
  return 0;
}

} // namespace mbc_run
