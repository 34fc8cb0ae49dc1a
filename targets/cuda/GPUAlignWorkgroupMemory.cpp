//===- GPUAlignWorkgroupMemory.cpp - 16-byte aligned workgroup buffers ----===//
//
// convert-gpu-to-nvvm turns a kernel's workgroup attributions into
// `llvm.mlir.global`s in NVVM's shared address space (3) without an alignment, so LLVM gives
// them their element's (2 bytes for a bf16 tile). The tensor-core kernels
// read and write their staging tiles with 16-byte accesses (ldmatrix rows,
// vector stores of 8 halves), which fault on a misaligned address. This
// pass raises every workgroup global of the kernel module to at least
// `alignment` bytes.
//
//===----------------------------------------------------------------------===//

#include "targets/cuda/CUDAPasses.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"

namespace ssmc::cuda {
#define GEN_PASS_DEF_GPUALIGNWORKGROUPMEMORY
#include "targets/cuda/Passes.h.inc"
} // namespace ssmc::cuda

using namespace mlir;

namespace {

struct GPUAlignWorkgroupMemoryPass
    : ssmc::cuda::impl::GPUAlignWorkgroupMemoryBase<GPUAlignWorkgroupMemoryPass> {
  using Base::Base;
  void runOnOperation() override {
    if (alignment < 1 || (alignment & (alignment - 1)) != 0) {
      getOperation().emitError("ssm-gpu-align-workgroup-memory: alignment must be a power of 2, got ")
          << static_cast<int64_t>(alignment);
      return signalPassFailure();
    }
    unsigned workgroup = static_cast<unsigned>(NVVM::NVVMMemorySpace::Shared);
    getOperation().walk([&](LLVM::GlobalOp global) {
      if (global.getAddrSpace() != workgroup)
        return;
      uint64_t current = global.getAlignment().value_or(0);
      if (current < static_cast<uint64_t>(alignment))
        global.setAlignment(static_cast<uint64_t>(alignment));
    });
  }
};

} // namespace
