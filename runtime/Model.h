//===- Model.h - a loaded artifact: metadata, weights, code -----*- C++ -*-===//
//
// Immutable once loaded, so any number of sessions on any threads share it.
//
//===----------------------------------------------------------------------===//
#ifndef MBRT_MODEL_H
#define MBRT_MODEL_H

#include "ArtifactReader.h"
#include "CodeLoader.h"
#include "MappedFile.h"
#include "ModelMetadata.h"
#include "SafetensorsReader.h"
#include "cuda/CudaModel.h"

#include "mbrt/mbrt.h"

#include <memory>
#include <string>
#include <vector>

namespace mbrt {

/// Every compiled entry point has this signature (docs/artifact.md).
using EntryFunction = void (*)(void **args);

/// Memory aligned to 64 bytes, zero-filled, freed with the object.
class AlignedBuffer {
public:
  AlignedBuffer() = default;
  explicit AlignedBuffer(size_t size);
  ~AlignedBuffer();
  AlignedBuffer(AlignedBuffer &&other) noexcept;
  AlignedBuffer &operator=(AlignedBuffer &&other) noexcept;
  AlignedBuffer(const AlignedBuffer &) = delete;
  AlignedBuffer &operator=(const AlignedBuffer &) = delete;

  uint8_t *data() const { return data_; }
  size_t size() const { return size_; }

private:
  uint8_t *data_ = nullptr;
  size_t size_ = 0;
};

/// f32 -> bf16, rounded to nearest even (NaN stays a quiet NaN): what
/// arith.truncf does, for derived weights.
uint16_t roundToBf16(float value);

class Model {
public:
  /// Loads and validates everything; throws RuntimeError.
  Model(const std::string &path, const mbrt_model_options &options);

  const ModelMetadata &metadata() const { return meta_; }
  uint32_t formatVersion() const { return container_.formatVersion; }
  const std::string &path() const { return path_; }
  /// The external weights file in use; "" when embedded.
  const std::string &weightsPath() const { return weightsPath_; }

  /// The data of META's weights.tensors[index] (16-byte aligned); null for
  /// a derived tensor unless the model runs on CUDA (whose plans alone
  /// read them).
  const void *weight(size_t index) const { return weights_[index]; }
  /// The function of META's entry point `entry` (CPU models).
  EntryFunction function(const EntryPoint &entry) const;

  /// The device the model runs on: MBRT_DEVICE_CPU or MBRT_DEVICE_CUDA, or
  /// MBRT_DEVICE_NONE for a model loaded for inspection only.
  mbrt_device device() const {
    if (inspectionOnly_)
      return MBRT_DEVICE_NONE;
    return cuda_ ? MBRT_DEVICE_CUDA : MBRT_DEVICE_CPU;
  }
  /// "cpu", or "cuda: NVIDIA H200 (sm_90), sm_90a cubin"; with
  /// --device=auto's fall-back to the CPU, also why.
  const std::string &deviceDescription() const { return deviceDescription_; }
  /// The device side of a CUDA model; null on the CPU.
  const CudaModel *cuda() const { return cuda_.get(); }

private:
  void bindEmbeddedWeights();
  void bindExternalWeights(const mbrt_model_options &options);
  void deriveWeights();
  void loadCpuCode();
  /// Fails unless the code's `<symbol>_signature` lists `entry`'s arguments
  /// as META does.
  void checkSignature(const EntryPoint &entry);
  bool chooseCuda(const mbrt_model_options &options,
                  std::shared_ptr<cuda::CudaDriver> &driver);

  std::string path_;
  std::unique_ptr<MappedFile> file_;
  ArtifactContainer container_;
  ModelMetadata meta_;
  std::string weightsPath_;
  std::unique_ptr<SafetensorsFile> safetensors_;
  std::vector<AlignedBuffer> realignedWeights_;
  std::vector<const void *> weights_;
  std::unique_ptr<LoadedCode> code_;
  std::vector<EntryFunction> functions_; // parallel to meta_.entryPoints
  std::unique_ptr<CudaModel> cuda_;
  bool inspectionOnly_ = false;
  std::string deviceDescription_;
};

} // namespace mbrt

#endif // MBRT_MODEL_H
