//===- Model.cpp - a loaded artifact: metadata, weights, code -------------===//
#include "Model.h"
#include "RuntimeError.h"

#include "mbc/ArtifactFormat.h"

#include <cstdlib>
#include <cstring>
#include <sstream>

namespace mbrt {

AlignedBuffer::AlignedBuffer(size_t size) : size_(size) {
  size_t rounded = (size + 63) / 64 * 64;
  if (rounded == 0)
    rounded = 64;
  data_ = static_cast<uint8_t *>(std::aligned_alloc(64, rounded));
  if (!data_)
    fail(MBRT_ERROR_OUT_OF_MEMORY,
         "cannot allocate " + std::to_string(size) + " bytes");
  std::memset(data_, 0, rounded);
}

AlignedBuffer::~AlignedBuffer() { std::free(data_); }

AlignedBuffer::AlignedBuffer(AlignedBuffer &&other) noexcept
    : data_(other.data_), size_(other.size_) {
  other.data_ = nullptr;
  other.size_ = 0;
}

AlignedBuffer &AlignedBuffer::operator=(AlignedBuffer &&other) noexcept {
  if (this != &other) {
    std::free(data_);
    data_ = other.data_;
    size_ = other.size_;
    other.data_ = nullptr;
    other.size_ = 0;
  }
  return *this;
}

namespace {

/// ABI: every weight pointer is at least 16-byte aligned.
constexpr uintptr_t weightAlignment = 16;

bool hostHasFeature(const std::string &feature, bool &known) {
  known = true;
#if defined(__x86_64__)
// __builtin_cpu_supports takes only literals, hence a macro. The list is
// what both GCC and Clang know.
#define MBRT_FEATURE(name)                                                     \
  if (feature == (name))                                                       \
    return __builtin_cpu_supports(name); // NOLINT(bugprone-macro-parentheses)
  MBRT_FEATURE("sse4.1")
  MBRT_FEATURE("sse4.2")
  MBRT_FEATURE("avx")
  MBRT_FEATURE("avx2")
  MBRT_FEATURE("fma")
  MBRT_FEATURE("bmi")
  MBRT_FEATURE("bmi2")
  MBRT_FEATURE("avx512f")
  MBRT_FEATURE("avx512bw")
  MBRT_FEATURE("avx512cd")
  MBRT_FEATURE("avx512dq")
  MBRT_FEATURE("avx512vl")
  MBRT_FEATURE("avx512vnni")
  MBRT_FEATURE("avx512bf16")
#undef MBRT_FEATURE
#endif
  known = false;
  return true;
}

std::string hostArchitecture() {
#if defined(__x86_64__)
  return "x86_64";
#elif defined(__aarch64__)
  return "aarch64";
#else
  return "";
#endif
}

/// Rejects CPU code that would fault on this machine (wrong architecture, a
/// missing instruction set extension) with a message instead of SIGILL.
void checkCpuTarget(const std::string &where, const nlohmann::json &target) {
  if (target.contains("triple") && target["triple"].is_string()) {
    std::string triple = target["triple"].get<std::string>();
    std::string host = hostArchitecture();
    if (!host.empty() && triple.compare(0, host.size(), host) != 0)
      fail(MBRT_ERROR_UNSUPPORTED,
           where + ": compiled for " + triple + ", this machine is " + host);
  }
  if (!target.contains("features") || !target["features"].is_string())
    return;
  std::stringstream features(target["features"].get<std::string>());
  std::string feature;
  while (std::getline(features, feature, ',')) {
    if (feature.size() < 2 || feature[0] != '+')
      continue;
    bool known;
    if (!hostHasFeature(feature.substr(1), known) && known)
      fail(MBRT_ERROR_UNSUPPORTED,
           where + ": the code needs CPU feature " + feature.substr(1) +
               ", which this CPU lacks; recompile the model on (or for) "
               "this machine");
  }
}

void checkCpuTargets(const std::string &path, const ModelMetadata &meta) {
  const nlohmann::json &targets = meta.document["targets"];
  for (size_t i = 0; i < targets.size(); ++i)
    if (targets[i]["kind"] == "cpu")
      checkCpuTarget(path + ": META: targets[" + std::to_string(i) + "]",
                     targets[i]);
}

/// The safetensors entry must match META's name, dtype and shape.
void checkExternalTensor(const std::string &weightsPath,
                         const std::string &artifactPath,
                         const WeightTensor &expected,
                         const SafetensorsTensor *found) {
  std::string where = weightsPath + ": tensor \"" + expected.name + "\"";
  std::string wanted = std::string(weightDTypeName(expected.dtype)) + " " +
                       shapeToString(expected.shape);
  if (!found)
    fail(MBRT_ERROR_WEIGHTS, where + " is missing (the artifact " +
                                 artifactPath + " expects " + wanted + ")");
  if (found->dtype != weightDTypeName(expected.dtype))
    fail(MBRT_ERROR_WEIGHTS, where + " has dtype " + found->dtype +
                                 ", the artifact expects " + wanted);
  if (found->shape != expected.shape)
    fail(MBRT_ERROR_WEIGHTS, where + " has shape " +
                                 shapeToString(found->shape) +
                                 ", the artifact expects " + wanted);
}

std::string directoryOf(const std::string &path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos)
    return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

} // namespace

Model::Model(const std::string &path, const mbrt_model_options &options)
    : path_(path) {
  if (options.device != MBRT_DEVICE_CPU && options.device != MBRT_DEVICE_AUTO &&
      options.device != MBRT_DEVICE_CUDA && options.device != MBRT_DEVICE_NONE)
    fail(MBRT_ERROR_INVALID_ARGUMENT,
         "unknown device " + std::to_string(int(options.device)));
  std::shared_ptr<cuda::CudaDriver> driver;
  if (options.device == MBRT_DEVICE_CUDA)
    driver = cuda::CudaDriver::load(); // "no CUDA device: ..." comes first
  file_ = std::make_unique<MappedFile>(path);
  container_ = readArtifactContainer(path, file_->data(), file_->size());
  const ArtifactSection *meta = container_.find(MBX_SECTION_META);
  meta_ = parseModelMetadata(path, meta->data, meta->size);
  // META.cuda is validated whatever the device, so a malformed artifact
  // fails the same way on every machine.
  const ArtifactSection *cudaCode = container_.find(MBX_SECTION_CUDA_CODE);
  CudaMetadata cudaMeta;
  if (cudaCode)
    cudaMeta = parseCudaMetadata(path, meta_, cudaCode->size);
  inspectionOnly_ = options.device == MBRT_DEVICE_NONE;
  bool useCuda = !inspectionOnly_ && chooseCuda(options, driver);
  if (!useCuda && !inspectionOnly_)
    checkCpuTargets(path, meta_);
  if (meta_.weightsEmbedded)
    bindEmbeddedWeights();
  else
    bindExternalWeights(options);
  if (useCuda) // only the CUDA plans read derived weights
    deriveWeights();
  if (inspectionOnly_) {
    deviceDescription_ = "none (inspection only)";
    return;
  }
  if (!useCuda) {
    loadCpuCode();
    return;
  }
  cuda_ = std::make_unique<CudaModel>(driver, path, meta_, std::move(cudaMeta),
                                      cudaCode->data, weights_);
  deviceDescription_ = "cuda: " + cuda_->description();
}

/// docs/cuda.md: CUDA when asked for, or with AUTO when the artifact has
/// CUDA code and a device is present; else the CPU.
bool Model::chooseCuda(const mbrt_model_options &options,
                       std::shared_ptr<cuda::CudaDriver> &driver) {
  bool hasCuda = container_.find(MBX_SECTION_CUDA_CODE) != nullptr;
  bool hasCpu = container_.find(MBX_SECTION_CPU_CODE) != nullptr;
  deviceDescription_ = "cpu";
  if (options.device == MBRT_DEVICE_CPU)
    return false;
  if (options.device == MBRT_DEVICE_CUDA) {
    if (!hasCuda)
      fail(MBRT_ERROR_UNSUPPORTED,
           path_ + ": the artifact has no CUDA_CODE section (it was compiled "
                   "for the CPU only); recompile it with mbc --target=cuda "
                   "or run it on the CPU device");
    return true;
  }
  if (!hasCuda)
    return false;
  try {
    driver = cuda::CudaDriver::load();
    return true;
  } catch (const RuntimeError &error) {
    if (error.status() != MBRT_ERROR_NO_DEVICE)
      throw;
    if (!hasCpu)
      fail(MBRT_ERROR_NO_DEVICE,
           path_ +
               ": the artifact holds CUDA code only (no CPU_CODE "
               "section), and there is " +
               error.what());
    deviceDescription_ = std::string("cpu (") + error.what() + ")";
    return false;
  }
}

void Model::bindEmbeddedWeights() {
  const ArtifactSection *section = container_.find(MBX_SECTION_WEIGHTS);
  if (!section && !meta_.weights.empty())
    fail(MBRT_ERROR_FORMAT, path_ + ": META weights.mode is \"embedded\" but "
                                    "the artifact has no WEIGHTS section");
  for (size_t i = 0; i < meta_.weights.size(); ++i) {
    const WeightTensor &tensor = meta_.weights[i];
    if (tensor.derived) { // deriveWeights()
      weights_.push_back(nullptr);
      continue;
    }
    std::string where = path_ + ": META: weights.tensors[" + std::to_string(i) +
                        "] (\"" + tensor.name + "\")";
    if (tensor.offset > section->size ||
        tensor.size > section->size - tensor.offset)
      fail(MBRT_ERROR_FORMAT, where + ": bytes [" +
                                  std::to_string(tensor.offset) + ", " +
                                  std::to_string(tensor.offset + tensor.size) +
                                  ") lie outside the WEIGHTS section of " +
                                  std::to_string(section->size) + " bytes");
    const uint8_t *data = section->data + tensor.offset;
    if (reinterpret_cast<uintptr_t>(data) % weightAlignment != 0)
      fail(MBRT_ERROR_FORMAT, where + ": offset " +
                                  std::to_string(tensor.offset) +
                                  " is not 16-byte aligned");
    weights_.push_back(data);
  }
}

void Model::bindExternalWeights(const mbrt_model_options &options) {
  std::string origin;
  if (options.weights_path) {
    weightsPath_ = options.weights_path;
    origin = "the weights file given in the options";
  } else if (!meta_.weightsFile.empty() && meta_.weightsFile[0] == '/') {
    weightsPath_ = meta_.weightsFile;
    origin = "META weights.file";
  } else {
    weightsPath_ = directoryOf(path_) + "/" + meta_.weightsFile;
    origin = "META weights.file, relative to the artifact's folder";
  }
  try {
    safetensors_ = std::make_unique<SafetensorsFile>(weightsPath_);
  } catch (const RuntimeError &error) {
    fail(MBRT_ERROR_WEIGHTS,
         std::string("external weights (") + origin + "): " + error.what());
  }
  for (const WeightTensor &expected : meta_.weights) {
    if (expected.derived) { // deriveWeights()
      weights_.push_back(nullptr);
      continue;
    }
    const SafetensorsTensor *found = safetensors_->find(expected.name);
    checkExternalTensor(weightsPath_, path_, expected, found);
    if (reinterpret_cast<uintptr_t>(found->data) % weightAlignment == 0) {
      weights_.push_back(found->data);
      continue;
    }
    // safetensors aligns tensors to their element size only: copy the
    // ones the ABI's 16-byte alignment rules out.
    realignedWeights_.emplace_back(found->size);
    std::memcpy(realignedWeights_.back().data(), found->data, found->size);
    weights_.push_back(realignedWeights_.back().data());
  }
}

uint16_t roundToBf16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  if ((bits & 0x7fffffffu) > 0x7f800000u) // NaN: keep it a quiet NaN
    return static_cast<uint16_t>((bits >> 16) | 0x40u);
  // Round to nearest, ties to even (a carry may reach the exponent:
  // rounding up to the next binade, or past the largest finite to inf).
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}

/// Derived tensors (META "derived"): computed from their stored sources,
/// once per model.
void Model::deriveWeights() {
  for (size_t i = 0; i < meta_.weights.size(); ++i) {
    const WeightTensor &tensor = meta_.weights[i];
    if (!tensor.derived)
      continue;
    const auto *source = static_cast<const float *>(weights_[tensor.source]);
    size_t elements = tensor.size / sizeof(uint16_t);
    realignedWeights_.emplace_back(tensor.size);
    uint8_t *out = realignedWeights_.back().data();
    for (size_t e = 0; e < elements; ++e) {
      uint16_t rounded = roundToBf16(source[e]);
      std::memcpy(out + 2 * e, &rounded, sizeof rounded);
    }
    weights_[i] = out;
  }
}

void Model::loadCpuCode() {
  const ArtifactSection *section = container_.find(MBX_SECTION_CPU_CODE);
  if (!section)
    fail(MBRT_ERROR_CODE, path_ + ": the artifact has no CPU_CODE section "
                                  "(it holds CUDA code only)");
  code_ = std::make_unique<LoadedCode>(path_ + ": CPU_CODE section",
                                       section->data, section->size);
  for (const EntryPoint &entry : meta_.entryPoints) {
    void *address = code_->find(entry.symbol);
    if (!address)
      fail(MBRT_ERROR_CODE, path_ + ": CPU_CODE does not define symbol \"" +
                                entry.symbol + "\" of entry point \"" +
                                entry.name + "\" (META " + entry.jsonPath +
                                ".symbol)");
    checkSignature(entry);
    functions_.push_back(reinterpret_cast<EntryFunction>(address));
  }
}

namespace {

/// META's argument `arg` as a signature line (docs/artifact.md, "Entry point
/// signatures"): `context`, or `KIND NAME DTYPE [D0,D1,...]`; a weight
/// argument takes its dtype and shape from its tensor.
std::string signatureLine(const ModelMetadata &meta, const EntryArg &arg) {
  if (arg.kind == ArgKind::Context)
    return "context";
  const std::vector<int64_t> *shape = &arg.shape;
  std::string line = std::string(argKindName(arg.kind)) + " " + arg.name;
  if (arg.kind == ArgKind::Weight) {
    const WeightTensor &tensor = meta.weights[arg.weightIndex];
    line += std::string(" ") + weightDTypeName(tensor.dtype);
    shape = &tensor.shape;
  } else {
    line += std::string(" ") + dtypeName(arg.dtype);
  }
  line += " [";
  for (size_t i = 0; i < shape->size(); ++i)
    line += (i ? "," : "") + std::to_string((*shape)[i]);
  return line + "]";
}

/// Whether META's `line` is the code's `expected`, where a `?` in `expected`
/// stands for any number (code that reads that size at run time).
bool signatureLineMatches(const std::string &expected,
                          const std::string &line) {
  size_t at = 0;
  for (char c : expected) {
    if (c != '?') {
      if (at == line.size() || line[at] != c)
        return false;
      ++at;
      continue;
    }
    size_t digits = at;
    while (digits < line.size() && line[digits] >= '0' && line[digits] <= '9')
      ++digits;
    if (digits == at)
      return false;
    at = digits;
  }
  return at == line.size();
}

} // namespace

void Model::checkSignature(const EntryPoint &entry) {
  std::string symbol = entry.symbol + "_signature";
  const char *text = static_cast<const char *>(code_->find(symbol));
  std::string where = path_ + ": entry point \"" + entry.name + "\": ";
  if (!text)
    fail(MBRT_ERROR_CODE,
         where + "CPU_CODE does not define \"" + symbol +
             "\", the argument list its code was compiled for (an artifact "
             "of an older mbc: compile it again)");
  // The code's own constant, bounded in case the section lies.
  constexpr size_t maxSignature = size_t(1) << 20;
  std::string signature(text, strnlen(text, maxSignature));
  std::vector<std::string> expected;
  std::istringstream lines(signature);
  for (std::string line; std::getline(lines, line);)
    expected.push_back(line);
  std::string argsPath = "META " + entry.jsonPath + ".args";
  for (size_t i = 0; i < entry.args.size() && i < expected.size(); ++i) {
    std::string line = signatureLine(meta_, entry.args[i]);
    if (!signatureLineMatches(expected[i], line))
      fail(MBRT_ERROR_CODE,
           where + argsPath + "[" + std::to_string(i) + "] is \"" + line +
               "\", but the compiled code takes \"" + expected[i] + "\" there");
  }
  if (entry.args.size() != expected.size())
    fail(MBRT_ERROR_CODE, where + argsPath + " lists " +
                              std::to_string(entry.args.size()) +
                              " arguments, but the compiled code takes " +
                              std::to_string(expected.size()));
}

EntryFunction Model::function(const EntryPoint &entry) const {
  return functions_[&entry - meta_.entryPoints.data()];
}

} // namespace mbrt
