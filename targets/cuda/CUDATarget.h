//===- CUDATarget.h - Compile an imported model for NVIDIA GPUs -*- C++ -*-===//
//
// The CUDA target shares the CPU target's front half (ssm passes, one-shot
// bufferization) and then maps every parallel loop to a kernel with upstream
// MLIR: convert-linalg-to-parallel-loops, gpu-map-parallel-loops,
// convert-parallel-loops-to-gpu, gpu-kernel-outlining, convert-gpu-to-nvvm
// and gpu-module-to-binary (LLVM's NVPTX backend). The small passes in
// CUDAPasses.cpp only prepare IR for those.
//
// Host side. What remains outside kernels (buffer allocation, the chunk
// loops of the scan, attention's per-sequence KV windows, kernel launches) is
// ordinary host code: gpu-async-region and gpu-to-llvm turn it into calls of
// MLIR's `mgpu*` runtime functions, and it is compiled for x86-64 like the
// CPU target's code. MLIR's own wrapper library (libmlir_cuda_runtime) is not
// shipped: the generated launch code defines the dozen `mgpu*` functions on
// the driver-API table the runtime passes in `ssmc_call.device`
// (runtime/include/ssmc/abi.h). This keeps the runtime free of model
// knowledge (it only resolves driver symbols, owns device memory and a
// stream) and reuses upstream's host lowering, argument packing included,
// instead of a hand-written launch list that could not express host loops.
// The shim maps MLIR's "create a stream, launch, synchronize, destroy" per
// region onto the session's one stream with no synchronization (all work is
// stream-ordered, allocations use cuMemAllocAsync), so a call's work is
// asynchronous until its logits are copied back; that is also what a CUDA
// graph capture of a decode step needs later.
//
// Device image. All kernels live in one gpu.module (one PTX file). The
// gpu.binary that the host embeds holds an "ssmc device image":
//   bytes 0-7   "SSMCUDA1"
//   bytes 8-11  cubin size C (little endian; 0 when ptxas was not found)
//   bytes 12-15 PTX size P, including its terminating NUL
//   then C bytes of cubin (for exactly the target's sm), then P bytes of PTX.
// The launch code loads the cubin and falls back to JIT-compiling the PTX
// (newer GPUs, or no cubin).
//
//===----------------------------------------------------------------------===//
#ifndef SSMC_TARGETS_CUDA_CUDATARGET_H
#define SSMC_TARGETS_CUDA_CUDATARGET_H

#include "targets/cpu/CPUTarget.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/Error.h"

#include <string>
#include <vector>

namespace ssmc::cuda {

/// What distinguishes the CUDA targets.
struct CUDATargetDesc {
  unsigned sm = 90;            ///< compute capability, 80 or 90
  std::string chip;            ///< "sm_90"
  std::string artifactTarget;  ///< manifest "target": "cuda-sm90"
  int64_t blockSize = 256;     ///< threads per block of every kernel
  std::string ptxas;           ///< ptxas found at compile time, or empty
  /// See cpu::CPUTargetDesc::scanAllChunks: on a GPU a loop over chunks
  /// leaves most SMs idle (one chunk is heads x a few tiles of work).
  bool scanAllChunks = true;
  cpu::CPUTargetDesc host;     ///< the host code (x86-64 baseline)
};

/// `sm` is "80", "90", "sm_80" or "sm_90". Finds ptxas ($SSMC_PTXAS, where
/// "none" means do not use one; then $CUDA_HOME/bin, /usr/local/cuda/bin,
/// PATH); without one the artifact carries PTX only.
llvm::Expected<CUDATargetDesc> getCUDATarget(llvm::StringRef sm);

/// Lowers an imported model to kernels in the NVVM dialect (one gpu.module)
/// and host code with gpu.launch_func. The @forward arguments that got a
/// host copy carry `ssmc.host_mirror_of`.
llvm::Error lowerToKernels(mlir::ModuleOp module, const CUDATargetDesc &target,
                           const cpu::CompileOptions &options);

/// LLVM IR of the kernel module as the NVPTX backend receives it
/// (`--emit=llvm`). `module` is left unchanged.
llvm::Expected<std::string> emitKernelLLVMIR(mlir::ModuleOp module, const CUDATargetDesc &target);
/// PTX of the kernel module (`--emit=asm`). `module` is left unchanged.
llvm::Expected<std::string> emitPTX(mlir::ModuleOp module, const CUDATargetDesc &target);
/// Assembles PTX with ptxas for the target's sm; `log` gets ptxas' -v output.
llvm::Expected<std::vector<char>> assemblePTX(const std::string &ptx, const CUDATargetDesc &target,
                                              std::string *log = nullptr);
/// The device image (layout above).
std::vector<char> packDeviceImage(const std::string &ptx, const std::vector<char> &cubin);

/// Replaces the kernel module by a gpu.binary holding `image` and lowers the
/// host code to the LLVM dialect (it then calls mgpu* functions).
llvm::Error lowerHost(mlir::ModuleOp module, const std::vector<char> &image,
                      const cpu::CompileOptions &options);

/// An @forward argument that has a host copy: its index among the arguments
/// and which ssmc_call field ("tokens", "lengths", "positions") holds it.
struct HostMirror {
  unsigned argument;
  std::string field;
};
/// The host copies @forward takes after its regular arguments, in order.
llvm::Expected<std::vector<HostMirror>> collectHostMirrors(mlir::ModuleOp module);

/// C source of the launch code: the ABI entry points (`ssmc_prefill`,
/// `ssmc_decode`), the mgpu* functions on the runtime's driver table and
/// `ssmc_cuda_release`.
std::string generateLaunchCode(const std::vector<cpu::StateArg> &states, int64_t vocab,
                               bool takesPositions, const std::vector<HostMirror> &mirrors);

} // namespace ssmc::cuda

#endif // SSMC_TARGETS_CUDA_CUDATARGET_H
