//===- ArtifactWriter.cpp - writing .mbx artifacts ------------------------===//
#include "mbc/Target/Artifact.h"

#include "mbc/ArtifactFormat.h"
#include "mbc/Support/OutputFile.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Config/llvm-config.h"
#include "llvm/Support/Endian.h"

namespace mbc {
namespace {

llvm::Error artifactError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

uint64_t alignTo64(uint64_t offset) {
  return (offset + MBX_ALIGNMENT - 1) / MBX_ALIGNMENT * MBX_ALIGNMENT;
}

/// One section's bytes, possibly in pieces (the weights are written straight
/// from the mapped safetensors file).
struct Section {
  uint32_t kind = 0;
  std::vector<llvm::ArrayRef<uint8_t>> pieces;
  std::vector<uint64_t> pieceOffsets;
  uint64_t size = 0;
  uint64_t offset = 0;
  uint64_t checksum = MBX_FNV_OFFSET;

  void append(llvm::ArrayRef<uint8_t> bytes, uint64_t at) {
    pieces.push_back(bytes);
    pieceOffsets.push_back(at);
    size = std::max(size, at + bytes.size());
  }
};

llvm::ArrayRef<uint8_t> bytesOf(llvm::StringRef text) {
  return {reinterpret_cast<const uint8_t *>(text.data()), text.size()};
}

llvm::json::Value attributeToJSON(mlir::Attribute attribute) {
  if (auto string = llvm::dyn_cast<mlir::StringAttr>(attribute))
    return string.getValue().str();
  if (auto integer = llvm::dyn_cast<mlir::IntegerAttr>(attribute))
    return integer.getInt();
  if (auto array = llvm::dyn_cast<mlir::ArrayAttr>(attribute)) {
    llvm::json::Array values;
    for (mlir::Attribute element : array)
      values.push_back(attributeToJSON(element));
    return values;
  }
  if (auto dictionary = llvm::dyn_cast<mlir::DictionaryAttr>(attribute)) {
    llvm::json::Object object;
    for (mlir::NamedAttribute field : dictionary)
      object[field.getName().getValue()] = attributeToJSON(field.getValue());
    return object;
  }
  return nullptr;
}

} // namespace

llvm::json::Object modelConfigToJSON(const ModelConfig &config) {
  llvm::json::Array stages;
  for (const StageConfig &stage : config.stages)
    stages.push_back(llvm::json::Object{{"dim", stage.dim},
                                        {"depth", stage.depth},
                                        {"heads", stage.heads},
                                        {"dim_head", stage.dimHead},
                                        {"seq_len", stage.seqLen}});
  return llvm::json::Object{
      {"architecture", stringifyArchitecture(config.architecture)},
      {"vocab_size", config.vocabSize},
      {"stages", std::move(stages)},
      {"ff_mult", config.ffMult},
      {"norm", stringifyNormKind(config.norm)},
      {"norm_eps", config.normEps},
      {"activation", stringifyActivation(config.activation)},
      {"pos_emb", config.posEmb},
      {"rotary", config.rotary},
      {"rotary_theta", config.rotaryTheta},
      {"token_shift", config.tokenShift},
      {"final_norm", config.finalNorm},
      {"tie_embeddings", config.tieEmbeddings},
      {"head_bias", config.headBias},
      {"pad_id", config.padId},
  };
}

llvm::Error writeArtifact(llvm::StringRef path, const ArtifactInputs &inputs) {
  // Weights read by any entry point, in first-use order, then the derived
  // weights (mb-cuda-hoist-weight-conversions), stored nowhere: the
  // runtime computes each from its source when the model loads.
  struct ListedWeight {
    const TensorInfo *tensor;
    std::string derivedName; // empty: the stored tensor itself
  };
  std::vector<ListedWeight> listed;
  llvm::StringSet<> seen;
  auto list = [&](llvm::StringRef name) -> llvm::Expected<const TensorInfo *> {
    const TensorInfo *tensor = inputs.weights->find(name);
    if (!tensor)
      return artifactError(inputs.weights->path() + ": tensor '" + name +
                           "' used by the compiled code is missing");
    if (seen.insert(name).second)
      listed.push_back({tensor, ""});
    return tensor;
  };
  for (auto entry : inputs.entryPoints.getAsRange<mlir::DictionaryAttr>())
    for (auto arg : entry.getAs<mlir::ArrayAttr>("args")
                        .getAsRange<mlir::DictionaryAttr>())
      if (arg.getAs<mlir::StringAttr>("kind").getValue() == "weight")
        if (llvm::Error error =
                list(arg.getAs<mlir::StringAttr>("name").getValue())
                    .takeError())
          return error;
  if (inputs.derivedWeights)
    for (auto derived :
         inputs.derivedWeights.getAsRange<mlir::DictionaryAttr>()) {
      llvm::StringRef name = derived.getAs<mlir::StringAttr>("name").getValue();
      llvm::Expected<const TensorInfo *> source =
          list(derived.getAs<mlir::StringAttr>("from").getValue());
      if (!source)
        return source.takeError();
      if ((*source)->dtype != DType::F32 ||
          derived.getAs<mlir::StringAttr>("convert").getValue() != "bf16")
        return artifactError("derived weight '" + name +
                             "': only F32 tensors rounded to bf16 are "
                             "supported");
      if (!seen.insert(name).second)
        return artifactError("derived weight '" + name + "' is listed twice");
      listed.push_back({*source, name.str()});
    }

  bool embedded = inputs.weightsMode == WeightsMode::Embedded;
  Section weights;
  weights.kind = MBX_SECTION_WEIGHTS;
  llvm::json::Array tensorList;
  for (const ListedWeight &weight : listed) {
    const TensorInfo *tensor = weight.tensor;
    if (!weight.derivedName.empty()) { // half the F32 source's bytes
      tensorList.push_back(llvm::json::Object{
          {"name", weight.derivedName},
          {"dtype", "BF16"},
          {"shape", llvm::json::Array(tensor->shape)},
          {"size", int64_t(tensor->end - tensor->begin) / 2},
          {"derived",
           llvm::json::Object{{"from", tensor->name}, {"convert", "bf16"}}}});
      continue;
    }
    llvm::json::Object entry{{"name", tensor->name},
                             {"dtype", stringifyDType(tensor->dtype)},
                             {"shape", llvm::json::Array(tensor->shape)},
                             {"size", int64_t(tensor->end - tensor->begin)}};
    if (embedded) {
      uint64_t at = alignTo64(weights.size);
      entry["offset"] = int64_t(at);
      weights.append(inputs.weights->data(*tensor), at);
    }
    tensorList.push_back(std::move(entry));
  }
  llvm::json::Object weightsMeta{{"mode", embedded ? "embedded" : "external"},
                                 {"tensors", std::move(tensorList)}};
  if (!embedded)
    weightsMeta["file"] = inputs.weightsReference;

  // Each entry point is called through the wrapper mb-entry-wrappers made.
  // mb-cpu-outline-dispatches records each entry point's dispatches with it;
  // META lists them in one table that names the entry point.
  llvm::json::Value entryPoints = attributeToJSON(inputs.entryPoints);
  llvm::json::Array dispatches;
  for (llvm::json::Value &entry : *entryPoints.getAsArray()) {
    llvm::json::Object &object = *entry.getAsObject();
    std::string name = object.getString("name")->str();
    object["symbol"] = "mbc_entry_" + name;
    if (llvm::json::Array *ofEntry = object.getArray("dispatches")) {
      for (llvm::json::Value &dispatch : *ofEntry) {
        llvm::json::Object &fields = *dispatch.getAsObject();
        dispatches.push_back(llvm::json::Object{
            {"name", std::move(fields["name"])},
            {"entry", name},
            {"workgroups", std::move(fields["workgroups"])}});
      }
      object.erase("dispatches");
    }
  }
  llvm::json::Object meta{
      {"format_version", int64_t(MBX_FORMAT_VERSION)},
      {"compiler", "mbc 0.1.0 (LLVM " LLVM_VERSION_STRING ")"},
      {"model", modelConfigToJSON(*inputs.config)},
      {"weights", std::move(weightsMeta)},
      {"entry_points", std::move(entryPoints)},
      {"dispatches", std::move(dispatches)},
  };
  llvm::json::Array targets;
  if (inputs.hasCpu)
    targets.push_back(
        llvm::json::Object{{"kind", "cpu"},
                           {"triple", inputs.cpuTarget.triple},
                           {"cpu", inputs.cpuTarget.cpu},
                           {"features", inputs.cpuTarget.features}});
  // CUDA images (docs/cuda.md): each 64-byte aligned in CUDA_CODE.
  Section cudaCode;
  cudaCode.kind = MBX_SECTION_CUDA_CODE;
  if (inputs.cuda) {
    llvm::json::Array archs;
    for (const std::string &arch : inputs.cuda->archs)
      archs.push_back(arch);
    targets.push_back(llvm::json::Object{{"kind", "cuda"},
                                         {"archs", std::move(archs)},
                                         {"ptx_isa", inputs.cuda->ptxIsa}});
    std::vector<uint64_t> offsets;
    for (const CudaImage &image : inputs.cuda->images) {
      uint64_t at = alignTo64(cudaCode.size);
      offsets.push_back(at);
      cudaCode.append(bytesOf(image.bytes), at);
    }
    meta["cuda"] = cudaMetadata(*inputs.cuda, offsets);
  }
  if (targets.empty())
    return artifactError("an artifact needs CPU or CUDA code");
  meta["targets"] = std::move(targets);
  // Generation geometry (docs/runtime.md) when the decode entry points exist.
  bool hasGeneration = llvm::any_of(
      inputs.entryPoints.getAsRange<mlir::DictionaryAttr>(),
      [](mlir::DictionaryAttr entry) {
        return entry.getAs<mlir::StringAttr>("name").getValue() == "embed_0";
      });
  if (hasGeneration) {
    const ModelConfig &config = *inputs.config;
    bool startToken = config.architecture == Architecture::MegabyteLucidrains;
    llvm::json::Array stages;
    for (size_t s = 0; s < config.stages.size(); ++s) {
      const StageConfig &stage = config.stages[s];
      stages.push_back(
          llvm::json::Object{{"dim", stage.dim},
                             {"positions", stage.seqLen + (startToken ? 1 : 0)},
                             {"layers", stage.depth},
                             {"kv_width", stage.heads * stage.dimHead},
                             {"units", config.bytesPerPosition(s)}});
    }
    meta["generation"] = llvm::json::Object{{"start_token", startToken},
                                            {"stages", std::move(stages)}};
  }
  std::string metaText;
  llvm::raw_string_ostream(metaText) << llvm::json::Value(std::move(meta));

  std::vector<Section> sections(1);
  sections[0].kind = MBX_SECTION_META;
  sections[0].append(bytesOf(metaText), 0);
  if (inputs.hasCpu) {
    Section cpuCode;
    cpuCode.kind = MBX_SECTION_CPU_CODE;
    cpuCode.append(bytesOf(inputs.cpuCode), 0);
    sections.push_back(std::move(cpuCode));
  }
  if (inputs.cuda)
    sections.push_back(std::move(cudaCode));
  if (embedded)
    sections.push_back(std::move(weights));

  // Layout: header, section table, then each section 64-byte aligned.
  uint64_t offset =
      alignTo64(MBX_HEADER_SIZE + sections.size() * MBX_SECTION_ENTRY_SIZE);
  for (Section &section : sections) {
    section.offset = offset;
    offset = alignTo64(offset + section.size);
    // Checksum over the section as written, zero padding between pieces
    // included.
    uint64_t at = 0;
    static const uint8_t zeros[MBX_ALIGNMENT] = {};
    for (size_t i = 0; i < section.pieces.size(); ++i) {
      for (; at < section.pieceOffsets[i]; ++at)
        section.checksum = mbx_fnv1a(section.checksum, zeros, 1);
      section.checksum = mbx_fnv1a(section.checksum, section.pieces[i].data(),
                                   section.pieces[i].size());
      at += section.pieces[i].size();
    }
  }
  uint64_t fileSize = sections.back().offset + sections.back().size;

  std::string table;
  auto put32 = [](std::string &out, uint32_t value) {
    char bytes[4];
    llvm::support::endian::write32le(bytes, value);
    out.append(bytes, 4);
  };
  auto put64 = [](std::string &out, uint64_t value) {
    char bytes[8];
    llvm::support::endian::write64le(bytes, value);
    out.append(bytes, 8);
  };
  for (const Section &section : sections) {
    put32(table, section.kind);
    put32(table, 0);
    put64(table, section.offset);
    put64(table, section.size);
    put64(table, section.checksum);
    put64(table, 0);
  }
  std::string header(MBX_MAGIC, MBX_MAGIC_SIZE);
  put32(header, MBX_FORMAT_VERSION);
  put32(header, MBX_HEADER_SIZE);
  put32(header, sections.size());
  put32(header, 0);
  put64(header, fileSize);
  put64(header, MBX_HEADER_SIZE);
  put64(header, mbx_fnv1a(MBX_FNV_OFFSET, table.data(), table.size()));
  header.resize(MBX_HEADER_SIZE, '\0');

  return writeFileAtomically(path, [&](llvm::raw_ostream &os) {
    uint64_t written = 0;
    auto padTo = [&](uint64_t target) {
      os.write_zeros(target - written);
      written = target;
    };
    os << header << table;
    written = header.size() + table.size();
    for (const Section &section : sections) {
      padTo(section.offset);
      for (size_t i = 0; i < section.pieces.size(); ++i) {
        padTo(section.offset + section.pieceOffsets[i]);
        os.write(reinterpret_cast<const char *>(section.pieces[i].data()),
                 section.pieces[i].size());
        written += section.pieces[i].size();
      }
    }
    return llvm::Error::success();
  });
}

} // namespace mbc
