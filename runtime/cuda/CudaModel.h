//===- CudaModel.h - a model's device side: context, code, weights -*- C++
//-*-===//
//
// Immutable once built, like Model: the device's primary context, the
// module loaded from the image chosen for the device's architecture, every
// kernel's function and one device copy of the weights.
//
//===----------------------------------------------------------------------===//
#ifndef MBRT_CUDA_CUDAMODEL_H
#define MBRT_CUDA_CUDAMODEL_H

#include "cuda/CudaDriver.h"
#include "cuda/CudaMetadata.h"

#include <memory>
#include <string>
#include <vector>

namespace mbrt {

/// One device allocation, freed with the object.
class DeviceBuffer {
public:
  DeviceBuffer() = default;
  DeviceBuffer(const cuda::CudaDriver *driver, cuda::DevicePointer address,
               uint64_t size)
      : driver_(driver), address_(address), size_(size) {}
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer &&other) noexcept;
  DeviceBuffer &operator=(DeviceBuffer &&other) noexcept;
  DeviceBuffer(const DeviceBuffer &) = delete;
  DeviceBuffer &operator=(const DeviceBuffer &) = delete;

  cuda::DevicePointer address() const { return address_; }
  uint64_t size() const { return size_; }

private:
  const cuda::CudaDriver *driver_ = nullptr;
  cuda::DevicePointer address_ = 0;
  uint64_t size_ = 0;
};

class CudaModel {
public:
  /// Picks device 0, loads the image for its architecture from `code` (the
  /// CUDA_CODE section) and copies the weights (`hostWeights`, parallel to
  /// meta.weights) to the device. Throws RuntimeError.
  CudaModel(std::shared_ptr<cuda::CudaDriver> driver, const std::string &path,
            const ModelMetadata &meta, CudaMetadata cuda, const uint8_t *code,
            const std::vector<const void *> &hostWeights);
  ~CudaModel();
  CudaModel(const CudaModel &) = delete;
  CudaModel &operator=(const CudaModel &) = delete;

  const cuda::CudaDriver &driver() const { return *driver_; }
  const CudaMetadata &metadata() const { return cuda_; }
  /// "NVIDIA H200 (sm_90), sm_90a cubin".
  const std::string &description() const { return description_; }

  /// Makes the model's context current on the calling thread.
  void makeCurrent() const;
  /// The same for destructors: a failure is ignored (nothing to report to).
  void makeCurrentForCleanup() const noexcept {
    driver_->contextSetCurrent(context_);
  }
  /// A device allocation of `bytes`; MBRT_ERROR_OUT_OF_MEMORY naming
  /// `what`, the size and the device's free memory when it fails.
  DeviceBuffer allocate(const std::string &what, uint64_t bytes) const;

  cuda::DevicePointer weight(size_t index) const {
    return weights_.address() + weightOffsets_[index];
  }
  cuda::Function function(size_t kernel) const { return functions_[kernel]; }
  /// Device memory the model holds (the weights).
  uint64_t deviceBytes() const { return weights_.size(); }

private:
  /// Loads image_ into module_; false with `error` when the driver
  /// rejects it.
  bool loadImage(const uint8_t *code, std::string &error);
  /// Loads the module (image_, or the PTX the device runs when the driver
  /// rejects a cubin: then returns the cubin's architecture) and looks up
  /// the kernels.
  std::string loadModule(const uint8_t *code, int capability);
  /// Frees what the constructor made (also after it threw).
  void release() noexcept;
  void uploadWeights(const ModelMetadata &meta,
                     const std::vector<const void *> &hostWeights);

  std::shared_ptr<cuda::CudaDriver> driver_;
  std::string path_;
  CudaMetadata cuda_;
  cuda::Device device_ = 0;
  cuda::Context context_ = nullptr;
  cuda::Module module_ = nullptr;
  const CudaImage *image_ = nullptr;
  std::string description_;
  std::vector<cuda::Function> functions_; // parallel to cuda_.kernels
  DeviceBuffer weights_;
  std::vector<uint64_t> weightOffsets_; // 256-byte aligned, into weights_
};

} // namespace mbrt

#endif // MBRT_CUDA_CUDAMODEL_H
