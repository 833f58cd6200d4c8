//===- CudaMetadata.cpp - META.cuda, parsed and validated -----------------===//
#include "cuda/CudaMetadata.h"
#include "MetaReader.h"
#include "cuda/CudaDriver.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

namespace mbrt {

std::string CudaArch::name() const {
  return "sm_" + std::to_string(capability) + (archSpecific ? "a" : "");
}

bool parseCudaArch(const std::string &text, CudaArch &arch) {
  if (text.compare(0, 3, "sm_") != 0)
    return false;
  size_t end = 3;
  while (end < text.size() &&
         std::isdigit(static_cast<unsigned char>(text[end])))
    ++end;
  if (end == 3 || end - 3 > 3 || text[3] == '0')
    return false;
  std::string suffix = text.substr(end);
  if (!suffix.empty() && suffix != "a")
    return false;
  arch.capability = std::stoi(text.substr(3, end - 3));
  arch.archSpecific = suffix == "a";
  return arch.capability >= 10;
}

int selectCudaImage(const std::vector<CudaImage> &images, int deviceCapability,
                    std::string &problem, bool cubins) {
  int chosen = -1;
  for (size_t i = 0; cubins && i < images.size(); ++i)
    if (images[i].cubin && images[i].arch.capability == deviceCapability &&
        (chosen < 0 || images[i].arch.archSpecific))
      chosen = static_cast<int>(i);
  if (chosen >= 0)
    return chosen;
  for (size_t i = 0; i < images.size(); ++i) {
    const CudaArch &arch = images[i].arch;
    bool runs = arch.archSpecific ? arch.capability == deviceCapability
                                  : arch.capability <= deviceCapability;
    if (images[i].cubin || !runs)
      continue;
    const CudaArch *best = chosen < 0 ? nullptr : &images[chosen].arch;
    if (!best || arch.capability > best->capability ||
        (arch.capability == best->capability && arch.archSpecific))
      chosen = static_cast<int>(i);
  }
  if (chosen >= 0)
    return chosen;
  std::string listed;
  for (const CudaImage &image : images)
    listed += (listed.empty() ? "" : ", ") + image.arch.name() +
              (image.cubin ? " cubin" : " ptx");
  problem = "no CUDA image runs on this device's architecture sm_" +
            std::to_string(deviceCapability) + ": the artifact has " +
            (listed.empty() ? std::string("none") : listed) +
            " (cubins run on exactly their architecture, PTX on its own or "
            "a newer one); recompile with --cuda-arch=sm_" +
            std::to_string(deviceCapability);
  return -1;
}

uint64_t argumentBytes(const ModelMetadata &meta, const EntryPoint &entry,
                       size_t index) {
  const EntryArg &arg = entry.args[index];
  switch (arg.kind) {
  case ArgKind::Context:
    return 0;
  case ArgKind::Weight:
    return meta.weights[arg.weightIndex].size;
  case ArgKind::Input:
  case ArgKind::Output:
  case ArgKind::InOut:
    return uint64_t(elementCount(arg.shape)) * dtypeSize(arg.dtype);
  }
  return 0;
}

namespace {

constexpr int64_t maxBytes = int64_t(1) << 40;
/// Hopper's largest opt-in shared memory per block (227 KiB).
constexpr int64_t maxSharedBytes = int64_t(227) * 1024;

const char *paramName(KernelParam param) {
  switch (param) {
  case KernelParam::Pointer:
    return "ptr";
  case KernelParam::I64:
    return "i64";
  case KernelParam::I32:
    return "i32";
  case KernelParam::F32:
    return "f32";
  case KernelParam::TensorMap:
    return "tensor_map";
  }
  return "?";
}

/// Parses one plan of one entry point; knows the entry's argument sizes.
class PlanParser {
public:
  PlanParser(const MetaReader &reader, const ModelMetadata &meta,
             const EntryPoint &entry, const CudaMetadata &cuda,
             const std::map<std::string, size_t> &kernelIndex)
      : reader_(reader), meta_(meta), entry_(entry), cuda_(cuda),
        kernelIndex_(kernelIndex) {}

  CudaPlan parse(const json &plan, const std::string &path) {
    CudaPlan result;
    result.arenaBytes =
        reader_.integerAt(plan, path, "arena_bytes", 0, maxBytes);
    arenaBytes_ = result.arenaBytes;
    std::string stepsPath = keyPath(path, "steps");
    const json &steps = reader_.arrayAt(plan, path, "steps");
    for (size_t i = 0; i < steps.size(); ++i)
      result.steps.push_back(parseStep(steps[i], indexPath(stepsPath, i)));
    return result;
  }

private:
  PlanStep parseStep(const json &step, const std::string &path) {
    if (!step.is_object())
      reader_.error(path,
                    "expected an object, got " + MetaReader::describe(step));
    int kinds = int(step.contains("launch")) + int(step.contains("copy")) +
                int(step.contains("fill"));
    if (kinds != 1)
      reader_.error(path, "expected exactly one of \"launch\", \"copy\" and "
                          "\"fill\", got " +
                              MetaReader::describe(step));
    PlanStep result;
    result.jsonPath = path;
    if (step.contains("launch"))
      parseLaunch(step, path, result);
    else if (step.contains("copy"))
      parseCopy(reader_.objectAt(step, path, "copy"), keyPath(path, "copy"),
                result);
    else
      parseFill(reader_.objectAt(step, path, "fill"), keyPath(path, "fill"),
                result);
    return result;
  }

  void parseLaunch(const json &step, const std::string &path,
                   PlanStep &result) {
    result.kind = PlanStep::Launch;
    std::string name = reader_.stringAt(step, path, "launch");
    auto found = kernelIndex_.find(name);
    if (found == kernelIndex_.end())
      reader_.error(keyPath(path, "launch"),
                    "no kernel \"" + name + "\" in cuda.kernels");
    result.kernel = found->second;
    const CudaKernel &kernel = cuda_.kernels[result.kernel];
    std::vector<int64_t> grid =
        reader_.integersAt(step, path, "grid", 3, 1, (int64_t(1) << 31) - 1);
    for (size_t d = 1; d < 3; ++d)
      if (grid[d] > 65535)
        reader_.error(indexPath(keyPath(path, "grid"), d),
                      "expected at most 65535, got " + std::to_string(grid[d]));
    for (size_t d = 0; d < 3; ++d)
      result.grid[d] = static_cast<uint32_t>(grid[d]);
    std::string argsPath = keyPath(path, "args");
    const json &args = reader_.arrayAt(step, path, "args");
    if (args.size() != kernel.params.size())
      reader_.error(argsPath,
                    std::to_string(args.size()) + " arguments, but kernel \"" +
                        kernel.name + "\" takes " +
                        std::to_string(kernel.params.size()) + " parameters");
    for (size_t i = 0; i < args.size(); ++i)
      result.args.push_back(
          parseLaunchArg(args[i], indexPath(argsPath, i), kernel, i));
  }

  LaunchArg parseLaunchArg(const json &arg, const std::string &path,
                           const CudaKernel &kernel, size_t index) {
    LaunchArg result;
    result.kind = kernel.params[index];
    auto expect = [&](const char *key) {
      if (!arg.is_object() || !arg.contains(key))
        reader_.error(path, "parameter " + std::to_string(index) +
                                " of kernel \"" + kernel.name + "\" is " +
                                paramName(result.kind) + ", expected " +
                                (result.kind == KernelParam::Pointer
                                     ? std::string("{\"arg\": N}, {\"weight\": "
                                                   "NAME} or {\"temp\": B}")
                                     : "{\"" + std::string(key) + "\": ...}") +
                                ", got " + MetaReader::describe(arg));
    };
    switch (result.kind) {
    case KernelParam::Pointer:
      expect(arg.is_object() && arg.contains("temp")     ? "temp"
             : arg.is_object() && arg.contains("weight") ? "weight"
                                                         : "arg");
      result.buffer = parseRef(arg, path, 0, false);
      break;
    case KernelParam::I64:
      expect("i64");
      result.integer = reader_.integerAt(arg, path, "i64",
                                         std::numeric_limits<int64_t>::min(),
                                         std::numeric_limits<int64_t>::max());
      break;
    case KernelParam::I32:
      expect("i32");
      result.integer = reader_.integerAt(arg, path, "i32",
                                         std::numeric_limits<int32_t>::min(),
                                         std::numeric_limits<int32_t>::max());
      break;
    case KernelParam::F32:
      expect("f32");
      result.real = static_cast<float>(reader_.number(
          reader_.member(arg, path, "f32"), keyPath(path, "f32")));
      break;
    case KernelParam::TensorMap:
      expect("tensor_map");
      result.map = parseTensorMap(reader_.objectAt(arg, path, "tensor_map"),
                                  keyPath(path, "tensor_map"));
      break;
    }
    return result;
  }

  TensorMapSpec parseTensorMap(const json &map, const std::string &path) {
    TensorMapSpec result;
    std::string dtype = reader_.stringAt(map, path, "dtype");
    uint64_t elementBytes = 0;
    if (dtype == "bf16") {
      result.dataType = cuda::tensorMapBFloat16;
      elementBytes = 2;
    } else if (dtype == "f16") {
      result.dataType = cuda::tensorMapFloat16;
      elementBytes = 2;
    } else if (dtype == "f32") {
      result.dataType = cuda::tensorMapFloat32;
      elementBytes = 4;
    } else {
      reader_.error(keyPath(path, "dtype"),
                    "expected \"bf16\", \"f16\" or \"f32\", got \"" + dtype +
                        "\"");
    }
    for (int64_t dim :
         reader_.integersAt(map, path, "dims", 0, 1, int64_t(1) << 32))
      result.dims.push_back(uint64_t(dim));
    size_t rank = result.dims.size();
    if (rank < 1 || rank > 5)
      reader_.error(keyPath(path, "dims"),
                    "expected 1 to 5 dimensions, got " + std::to_string(rank));
    for (int64_t stride : reader_.integersAt(map, path, "strides_bytes",
                                             rank - 1, 16, maxBytes)) {
      if (stride % 16 != 0)
        reader_.error(keyPath(path, "strides_bytes"),
                      "stride " + std::to_string(stride) +
                          " is not a multiple of 16 bytes");
      result.stridesBytes.push_back(uint64_t(stride));
    }
    for (int64_t box : reader_.integersAt(map, path, "box", rank, 1, 256))
      result.box.push_back(uint32_t(box));
    if (result.box[0] * elementBytes % 16 != 0)
      reader_.error(keyPath(path, "box"),
                    "the inner box dimension " + std::to_string(result.box[0]) +
                        " x " + std::to_string(elementBytes) +
                        " bytes is not a multiple of 16 bytes");
    int64_t swizzle = reader_.integerAt(map, path, "swizzle", 0, 128);
    static const std::map<int64_t, int> swizzles = {
        {0, 0}, {32, 1}, {64, 2}, {128, 3}};
    if (!swizzles.count(swizzle))
      reader_.error(keyPath(path, "swizzle"),
                    "expected 0, 32, 64 or 128, got " +
                        std::to_string(swizzle));
    result.swizzle = swizzles.at(swizzle);
    uint64_t footprint = rank == 1
                             ? result.dims[0] * elementBytes
                             : result.stridesBytes.back() * result.dims.back();
    result.base = parseRef(reader_.objectAt(map, path, "base"),
                           keyPath(path, "base"), footprint, false);
    if (result.base.offset % 16 != 0)
      reader_.error(keyPath(path, "base"),
                    "offset " + std::to_string(result.base.offset) +
                        " is not 16-byte aligned (cuTensorMapEncodeTiled)");
    return result;
  }

  void parseCopy(const json &copy, const std::string &path, PlanStep &result) {
    result.kind = PlanStep::Copy;
    result.bytes = reader_.integerAt(copy, path, "bytes", 0, maxBytes);
    result.destination = parseRef(reader_.objectAt(copy, path, "dst"),
                                  keyPath(path, "dst"), result.bytes, true);
    result.source = parseRef(reader_.objectAt(copy, path, "src"),
                             keyPath(path, "src"), result.bytes, false);
  }

  void parseFill(const json &fill, const std::string &path, PlanStep &result) {
    result.kind = PlanStep::Fill;
    result.bytes = reader_.integerAt(fill, path, "bytes", 0, maxBytes);
    if (result.bytes % 4 != 0)
      reader_.error(keyPath(path, "bytes"),
                    std::to_string(result.bytes) +
                        " is not a multiple of 4 (the value is a u32 pattern)");
    result.value = static_cast<uint32_t>(
        reader_.integerAt(fill, path, "value", 0, 0xffffffffll));
    result.destination = parseRef(reader_.objectAt(fill, path, "dst"),
                                  keyPath(path, "dst"), result.bytes, true);
    if (result.destination.offset % 4 != 0)
      reader_.error(keyPath(path, "dst"),
                    "offset " + std::to_string(result.destination.offset) +
                        " is not 4-byte aligned (a u32 fill)");
  }

  /// {"arg": N, "offset": B}, {"weight": NAME, "offset": B} or
  /// {"temp": B}, with `bytes` used from there.
  BufferRef parseRef(const json &ref, const std::string &path, uint64_t bytes,
                     bool written) {
    BufferRef result;
    uint64_t size = 0;
    std::string what;
    int kinds = ref.is_object()
                    ? int(ref.contains("temp")) + int(ref.contains("arg")) +
                          int(ref.contains("weight"))
                    : 0;
    if (kinds == 1 && ref.contains("weight")) {
      std::string name = reader_.stringAt(ref, path, "weight");
      result.weightIndex = meta_.findWeight(name);
      if (result.weightIndex == meta_.weights.size())
        reader_.error(keyPath(path, "weight"),
                      "\"" + name + "\" is not in weights.tensors");
      if (written)
        reader_.error(keyPath(path, "weight"),
                      "\"" + name +
                          "\" is a weight, and weights are "
                          "read-only");
      result.weight = true;
      if (reader_.optionalMember(ref, path, "offset"))
        result.offset = reader_.integerAt(ref, path, "offset", 0, maxBytes);
      size = meta_.weights[result.weightIndex].size;
      what =
          "the weight \"" + name + "\" of " + std::to_string(size) + " bytes";
    } else if (kinds == 1 && ref.contains("temp")) {
      result.temporary = true;
      result.offset = reader_.integerAt(ref, path, "temp", 0, maxBytes);
      size = arenaBytes_;
      what = "the arena of arena_bytes " + std::to_string(arenaBytes_);
    } else if (kinds == 1 && ref.contains("arg")) {
      result.argument = static_cast<size_t>(reader_.integerAt(
          ref, path, "arg", 1, int64_t(entry_.args.size()) - 1));
      if (reader_.optionalMember(ref, path, "offset"))
        result.offset = reader_.integerAt(ref, path, "offset", 0, maxBytes);
      const EntryArg &arg = entry_.args[result.argument];
      size = argumentBytes(meta_, entry_, result.argument);
      what = "argument " + std::to_string(result.argument) + " (\"" + arg.name +
             "\") of " + std::to_string(size) + " bytes";
      if (written && arg.kind == ArgKind::Weight)
        reader_.error(keyPath(path, "arg"),
                      "argument " + std::to_string(result.argument) +
                          " is the weight \"" + arg.name +
                          "\", and weights are read-only");
    } else {
      reader_.error(path, "expected {\"arg\": N, \"offset\": B}, "
                          "{\"weight\": NAME, \"offset\": B} or "
                          "{\"temp\": B}, got " +
                              MetaReader::describe(ref));
    }
    if (result.offset > size || bytes > size - result.offset)
      reader_.error(path, "bytes [" + std::to_string(result.offset) + ", " +
                              std::to_string(result.offset + bytes) +
                              ") lie outside " + what + " of entry point \"" +
                              entry_.name + "\"");
    return result;
  }

  const MetaReader &reader_;
  const ModelMetadata &meta_;
  const EntryPoint &entry_;
  const CudaMetadata &cuda_;
  const std::map<std::string, size_t> &kernelIndex_;
  uint64_t arenaBytes_ = 0;
};

void parseImages(const MetaReader &reader, const json &cuda, uint64_t codeSize,
                 CudaMetadata &result) {
  const json &images = reader.arrayAt(cuda, "cuda", "images");
  if (images.empty())
    reader.error("cuda.images", "is empty: CUDA code needs at least one image");
  std::set<std::string> seen;
  for (size_t i = 0; i < images.size(); ++i) {
    std::string path = indexPath("cuda.images", i);
    CudaImage image;
    std::string arch = reader.stringAt(images[i], path, "arch");
    if (!parseCudaArch(arch, image.arch))
      reader.error(keyPath(path, "arch"),
                   "expected an architecture like \"sm_90a\" or \"sm_80\", "
                   "got \"" +
                       arch + "\"");
    std::string format = reader.stringAt(images[i], path, "format");
    if (format != "cubin" && format != "ptx")
      reader.error(keyPath(path, "format"),
                   "expected \"cubin\" or \"ptx\", got \"" + format + "\"");
    image.cubin = format == "cubin";
    std::string key = arch;
    key.append(" ").append(format);
    if (!seen.insert(key).second)
      reader.error(path, std::string("a second ")
                             .append(format)
                             .append(" image for ")
                             .append(arch));
    image.offset = reader.integerAt(images[i], path, "offset", 0, maxBytes);
    if (image.offset % 64 != 0)
      reader.error(keyPath(path, "offset"),
                   std::to_string(image.offset) + " is not 64-byte aligned");
    image.size = reader.integerAt(images[i], path, "size", 1, maxBytes);
    if (image.offset > codeSize || image.size > codeSize - image.offset)
      reader.error(path, "bytes [" + std::to_string(image.offset) + ", " +
                             std::to_string(image.offset + image.size) +
                             ") lie outside the CUDA_CODE section of " +
                             std::to_string(codeSize) + " bytes");
    result.images.push_back(image);
  }
}

void parseKernels(const MetaReader &reader, const json &cuda,
                  CudaMetadata &result,
                  std::map<std::string, size_t> &kernelIndex) {
  const json &kernels = reader.arrayAt(cuda, "cuda", "kernels");
  static const std::map<std::string, KernelParam> params = {
      {"ptr", KernelParam::Pointer},
      {"i64", KernelParam::I64},
      {"i32", KernelParam::I32},
      {"f32", KernelParam::F32},
      {"tensor_map", KernelParam::TensorMap}};
  for (size_t k = 0; k < kernels.size(); ++k) {
    std::string path = indexPath("cuda.kernels", k);
    CudaKernel kernel;
    kernel.name = reader.stringAt(kernels[k], path, "name");
    if (kernel.name.empty())
      reader.error(keyPath(path, "name"), "is empty");
    if (!kernelIndex.emplace(kernel.name, k).second)
      reader.error(keyPath(path, "name"),
                   "kernel \"" + kernel.name + "\" is listed twice");
    std::string paramsPath = keyPath(path, "params");
    const json &list = reader.arrayAt(kernels[k], path, "params");
    for (size_t p = 0; p < list.size(); ++p) {
      std::string param = list[p].is_string() ? list[p].get<std::string>() : "";
      auto found = params.find(param);
      if (found == params.end())
        reader.error(indexPath(paramsPath, p),
                     "expected \"ptr\", \"i64\", \"i32\", \"f32\" or "
                     "\"tensor_map\", got " +
                         MetaReader::describe(list[p]));
      kernel.params.push_back(found->second);
    }
    std::vector<int64_t> block =
        reader.integersAt(kernels[k], path, "block", 3, 1, 1024);
    if (block[0] * block[1] * block[2] > 1024 || block[2] > 64)
      reader.error(keyPath(path, "block"),
                   "a block of " + std::to_string(block[0]) + " x " +
                       std::to_string(block[1]) + " x " +
                       std::to_string(block[2]) +
                       " exceeds CUDA's 1024 threads (z at most 64)");
    for (size_t d = 0; d < 3; ++d)
      kernel.block[d] = static_cast<uint32_t>(block[d]);
    kernel.sharedBytes = static_cast<uint32_t>(
        reader.integerAt(kernels[k], path, "shared_bytes", 0, maxSharedBytes));
    if (reader.optionalMember(kernels[k], path, "registers"))
      reader.integerAt(kernels[k], path, "registers", 0, 255);
    result.kernels.push_back(std::move(kernel));
  }
}

/// targets' {"kind": "cuda", "archs": [...], "ptx_isa": "X.Y"} entry, when
/// there is one, must list every image's architecture.
void checkCudaTarget(const MetaReader &reader, const json &root,
                     const CudaMetadata &result) {
  const json &targets = root["targets"]; // an array: checked with META
  for (size_t i = 0; i < targets.size(); ++i) {
    std::string path = indexPath("targets", i);
    if (targets[i]["kind"] != "cuda")
      continue;
    std::string isa = reader.stringAt(targets[i], path, "ptx_isa");
    size_t dot = isa.find('.');
    if (dot == 0 || dot == std::string::npos || dot + 1 == isa.size() ||
        isa.find_first_not_of("0123456789.") != std::string::npos)
      reader.error(keyPath(path, "ptx_isa"),
                   "expected a version like \"8.0\", got \"" + isa + "\"");
    std::string archsPath = keyPath(path, "archs");
    const json &archs = reader.arrayAt(targets[i], path, "archs");
    std::set<std::string> listed;
    for (size_t a = 0; a < archs.size(); ++a) {
      CudaArch arch;
      if (!archs[a].is_string() ||
          !parseCudaArch(archs[a].get<std::string>(), arch))
        reader.error(indexPath(archsPath, a),
                     "expected an architecture like \"sm_90a\", got " +
                         MetaReader::describe(archs[a]));
      listed.insert(arch.name());
    }
    for (size_t m = 0; m < result.images.size(); ++m)
      if (!listed.count(result.images[m].arch.name()))
        reader.error(indexPath("cuda.images", m) + ".arch",
                     result.images[m].arch.name() + " is not among " +
                         archsPath);
  }
}

} // namespace

CudaMetadata parseCudaMetadata(const std::string &artifactPath,
                               const ModelMetadata &meta, uint64_t codeSize) {
  MetaReader reader(artifactPath);
  const json *cuda = reader.optionalMember(meta.document, "", "cuda");
  if (!cuda)
    reader.error("cuda", "required key is missing (the artifact has a "
                         "CUDA_CODE section)");
  if (!cuda->is_object())
    reader.error("cuda",
                 "expected an object, got " + MetaReader::describe(*cuda));
  CudaMetadata result;
  parseImages(reader, *cuda, codeSize, result);
  checkCudaTarget(reader, meta.document, result);
  std::map<std::string, size_t> kernelIndex;
  parseKernels(reader, *cuda, result, kernelIndex);

  const json &plans = reader.objectAt(*cuda, "cuda", "plans");
  for (auto item = plans.begin(); item != plans.end(); ++item)
    if (!meta.findEntry(item.key()))
      reader.error(keyPath("cuda.plans", item.key()),
                   "there is no entry point \"" + item.key() +
                       "\" in entry_points");
  for (const EntryPoint &entry : meta.entryPoints) {
    if (!plans.contains(entry.name))
      reader.error("cuda.plans", "entry point \"" + entry.name + "\" (META " +
                                     entry.jsonPath + ") has no plan");
    std::string path = keyPath("cuda.plans", entry.name);
    const json &plan = plans[entry.name];
    if (!plan.is_object())
      reader.error(path,
                   "expected an object, got " + MetaReader::describe(plan));
    PlanParser parser(reader, meta, entry, result, kernelIndex);
    result.plans.push_back(parser.parse(plan, path));
    result.arenaBytes =
        std::max(result.arenaBytes, result.plans.back().arenaBytes);
  }
  return result;
}

} // namespace mbrt
