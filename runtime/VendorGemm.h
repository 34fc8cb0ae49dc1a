//===- VendorGemm.h - The vendor matrix product of device targets -*- C++ -*-===//
#ifndef SSMC_RUNTIME_VENDORGEMM_H
#define SSMC_RUNTIME_VENDORGEMM_H

#include "ssmc/abi.h"

namespace ssmc {
namespace rt {

using GemmFn = decltype(ssmc_device::gemm);

/// ssmc_device.gemm backed by cuBLAS, or nullptr when no cuBLAS library can
/// be opened (or SSMC_CUBLAS=none).
GemmFn vendorGemm();
/// "cuBLAS", or nullptr.
const char *vendorGemmName();

} // namespace rt
} // namespace ssmc

#endif // SSMC_RUNTIME_VENDORGEMM_H
