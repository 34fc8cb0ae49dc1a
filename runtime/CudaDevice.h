//===- CudaDevice.h - The CUDA driver as the runtime uses it ----*- C++ -*-===//
//
// The runtime's side of CUDA artifacts: libcuda.so.1 opened with dlopen (never
// linked, so the runtime loads on machines without a GPU), the primary
// context of one device, device memory, a stream per session, and the driver
// table (ssmc_cuda_api, ssmc/abi.h) that generated code launches kernels
// through. Every failing driver call is reported with its name and the
// driver's error name and string. No model knowledge lives here.
//
// Built with the driver's declarations from cuda.h when the CUDA toolkit is
// present at build time (SSMC_HAVE_CUDA); otherwise open() reports that this
// runtime was built without CUDA support.
//
//===----------------------------------------------------------------------===//
#ifndef SSMC_RUNTIME_CUDADEVICE_H
#define SSMC_RUNTIME_CUDADEVICE_H

#include "ssmc/abi.h"

#include <cstdint>
#include <memory>
#include <string>

namespace ssmc {
namespace rt {

class CudaDevice {
public:
  /// Opens the device named by $SSMC_CUDA_DEVICE (default 0) and checks that
  /// its compute capability is at least `requiredSm` (e.g. 90). nullptr with
  /// an error starting "no CUDA device: " when there is none, or naming the
  /// failing driver call.
  static std::shared_ptr<CudaDevice> open(unsigned requiredSm, std::string &error);
  ~CudaDevice();
  CudaDevice(const CudaDevice &) = delete;
  CudaDevice &operator=(const CudaDevice &) = delete;

  /// Makes the context current on the calling thread.
  bool makeCurrent(std::string &error);
  bool allocate(uint64_t bytes, uint64_t &ptr, std::string &error);
  void release(uint64_t ptr);
  bool upload(uint64_t dst, const void *src, uint64_t bytes, std::string &error);
  bool download(void *dst, uint64_t src, uint64_t bytes, std::string &error);
  bool zero(uint64_t dst, uint64_t bytes, std::string &error);
  bool createStream(void *&stream, std::string &error);
  /// Free and total device memory (cuMemGetInfo).
  bool memoryInfo(uint64_t &freeBytes, uint64_t &totalBytes, std::string &error);
  void destroyStream(void *stream);

  /// The table generated code calls the driver through.
  const ssmc_cuda_api *api() const;
  /// "NVIDIA H100 80GB HBM3 (sm_90)".
  const std::string &description() const { return name; }

private:
  CudaDevice() = default;
  void *context = nullptr;
  int device = 0;
  std::string name;
};

} // namespace rt
} // namespace ssmc

#endif // SSMC_RUNTIME_CUDADEVICE_H
