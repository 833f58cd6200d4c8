//===- InfoCommand.cpp - mbc-run info: what an artifact holds -------------===//
#include "Commands.h"

#include <nlohmann/json.hpp>

#include <cstdio>

namespace mbc_run {
namespace {

std::string field(const nlohmann::json &object, const char *key) {
  if (!object.is_object() || !object.contains(key))
    return "?";
  const nlohmann::json &value = object[key];
  return value.is_string() ? value.get<std::string>() : value.dump();
}

std::string megabytes(uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f MB", bytes / 1e6);
  return text;
}

} // namespace

int runInfo(int argc, char **argv) {
  std::vector<std::string> valued = commonValuedOptions;
  Arguments arguments({"--json"}, valued);
  arguments.parse(argc, argv, 2);
  std::string path = modelPath(arguments);
  LoadedSession loaded(path, arguments, LoadPurpose::Inspect);
  size_t size = 0;
  const char *text = mbrt_model_metadata(loaded.model, &size);
  if (arguments.has("--json")) { // META verbatim, for scripts
    std::fwrite(text, 1, size, stdout);
    std::fputc('\n', stdout);
    return 0;
  }
  nlohmann::json meta = nlohmann::json::parse(text, text + size);
  const nlohmann::json &model = meta["model"];
  std::printf("artifact:       %s\n", path.c_str());
  std::printf("format version: %u (this runtime reads up to %u)\n",
              mbrt_model_format_version(loaded.model),
              mbrt_supported_format_version());
  std::printf("compiler:       %s\n", field(meta, "compiler").c_str());
  std::printf("architecture:   %s\n", field(model, "architecture").c_str());
  std::printf("vocabulary:     %d tokens, pad_id %d\n",
              mbrt_model_vocab_size(loaded.model),
              mbrt_model_pad_id(loaded.model));
  std::printf("max length:     %lld bytes (score window %lld, batch %lld)\n",
              static_cast<long long>(mbrt_model_max_length(loaded.model)),
              static_cast<long long>(mbrt_model_score_window(loaded.model)),
              static_cast<long long>(mbrt_model_score_batch(loaded.model)));
  const nlohmann::json &stages = model["stages"];
  for (size_t s = 0; s < stages.size(); ++s)
    std::printf(
        "%s%zu: dim %s, depth %s, heads %s x %s, seq_len %s\n",
        s == 0 ? "stages:         " : "                ", s,
        field(stages[s], "dim").c_str(), field(stages[s], "depth").c_str(),
        field(stages[s], "heads").c_str(), field(stages[s], "dim_head").c_str(),
        field(stages[s], "seq_len").c_str());
  const nlohmann::json &weights = meta["weights"];
  uint64_t weightBytes = 0;
  size_t derived = 0; // rounded from a stored tensor at load (CUDA)
  for (const nlohmann::json &tensor : weights["tensors"]) {
    derived += tensor.contains("derived");
    uint64_t elements = 1;
    for (const nlohmann::json &dim : tensor["shape"])
      elements *= dim.get<uint64_t>();
    std::string dtype = field(tensor, "dtype");
    weightBytes += elements * (dtype == "F32" ? 4 : 2);
  }
  const char *external = mbrt_model_weights_path(loaded.model);
  std::string derivedNote =
      derived ? " (" + std::to_string(derived) +
                    " derived at load for CUDA: bf16 copies of f32 ones)"
              : "";
  std::printf("weights:        %s, %zu tensors%s, %s%s%s\n",
              field(weights, "mode").c_str(), weights["tensors"].size(),
              derivedNote.c_str(), megabytes(weightBytes).c_str(),
              external ? ", file " : "", external ? external : "");
  for (size_t i = 0; i < meta["targets"].size(); ++i) {
    const nlohmann::json &target = meta["targets"][i];
    const char *indent = i == 0 ? "targets:        " : "                ";
    if (field(target, "kind") == "cuda")
      std::printf("%scuda %s (PTX ISA %s)\n", indent,
                  field(target, "archs").c_str(),
                  field(target, "ptx_isa").c_str());
    else
      std::printf("%s%s %s (cpu %s)\n", indent, field(target, "kind").c_str(),
                  field(target, "triple").c_str(),
                  field(target, "cpu").c_str());
  }
  // META.cuda was validated when the model loaded.
  if (meta.contains("cuda")) {
    const nlohmann::json &cuda = meta["cuda"];
    const nlohmann::json &images = cuda["images"];
    for (size_t i = 0; i < images.size(); ++i)
      std::printf("%s%s %s, %s bytes\n",
                  i == 0 ? "cuda images:    " : "                ",
                  field(images[i], "arch").c_str(),
                  field(images[i], "format").c_str(),
                  field(images[i], "size").c_str());
    std::printf("cuda kernels:   %zu\n", cuda["kernels"].size());
  }
  if (loaded.unloadedReason.empty())
    std::printf("device:         %s\n",
                mbrt_model_device_description(loaded.model));
  else // validated, but it cannot run here
    std::printf("device:         none: %s\n", loaded.unloadedReason.c_str());
  std::string entries;
  for (const nlohmann::json &entry : meta["entry_points"])
    entries += (entries.empty() ? "" : ", ") + field(entry, "name");
  std::printf("entry points:   %s\n", entries.c_str());
  std::printf("generation:     %s\n",
              mbrt_model_can_generate(loaded.model) ? "yes (KV-cached)" : "no");
  if (meta.contains("dispatches") && meta["dispatches"].is_array())
    std::printf("dispatches:     %zu\n", meta["dispatches"].size());
  return 0;
}

} // namespace mbc_run
