//===- VendorGemm.h - The vendor matrix product of device targets -*- C++ -*-===//
#ifndef SSMC_RUNTIME_VENDORGEMM_H
#define SSMC_RUNTIME_VENDORGEMM_H

#include "ssmc/abi.h"

namespace ssmc {
namespace rt {

using GemmFn = int32_t (*)(const ssmc_device *, int32_t, int32_t, int64_t, int64_t, int64_t,
                           uint64_t, int64_t, uint64_t, int64_t, uint64_t, int64_t);

/// ssmc_device.gemm backed by cuBLAS, or nullptr when no cuBLAS library can
/// be opened (or SSMC_CUBLAS=none).
GemmFn vendorGemm();
/// "cuBLAS", or nullptr.
const char *vendorGemmName();

} // namespace rt
} // namespace ssmc

#endif // SSMC_RUNTIME_VENDORGEMM_H
