//===- CPUTarget.h - Compile an imported model for a CPU target -*- C++ -*-===//
//
// The host (x86-64) and aarch64 targets share one pipeline: the ssm passes
// lower the model to linalg on tensors, upstream MLIR bufferizes and lowers
// it to the LLVM dialect, LLVM's code generator emits an object file for the
// target triple, and generated launch code adapts the runtime ABI
// (runtime/include/ssmc/abi.h) to the lowered @forward. Target-specific
// choices live in CPUTargetDesc, not in the passes.
//
//===----------------------------------------------------------------------===//
#ifndef SSMC_TARGETS_CPU_CPUTARGET_H
#define SSMC_TARGETS_CPU_CPUTARGET_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/Error.h"

#include <optional>
#include <string>
#include <vector>

namespace ssmc::cpu {

/// What distinguishes the CPU targets.
struct CPUTargetDesc {
  std::string name;                     ///< "host" or "aarch64"
  std::string triple;                   ///< LLVM target triple
  std::string cpu;                      ///< LLVM CPU name
  std::string features;                 ///< LLVM feature string
  std::string artifactTarget;           ///< manifest "target"
  std::vector<std::string> cpuFeatures; ///< manifest features the code requires
  /// Register blocking of the projections (ssm-vectorize-projections): f32
  /// lanes per vector and a rows x cols block of accumulators that, with the
  /// operands, fits the vector register file.
  int64_t vectorWidth = 8;
  int64_t blockRows = 4;
  int64_t blockCols = 3;
  /// Chunk length of the chunked scan (0: the model's own). On CPUs the
  /// intra-chunk matrices are the scan's cost, so chunks are shorter than
  /// the GPU-oriented checkpoint default.
  int64_t scanChunk = 64;
  /// ssm.chunked_scan with all whole chunks in the same ops instead of a
  /// loop over chunks (convert-ssm-to-linalg{scan-all-chunks-at-once}): more
  /// parallelism per op, per-chunk states in memory. The CPU's threads are
  /// already busy with one chunk's (batch x heads) work, so off by default.
  bool scanAllChunks = false;
};

/// `name` is "host" (x86-64 of this machine; AVX-512 or AVX2/FMA used when
/// present) or
/// "aarch64" (NEON; `dotprod` adds +dotprod).
llvm::Expected<CPUTargetDesc> getCPUTarget(llvm::StringRef name, bool dotprod);

/// Options of one compilation.
struct CompileOptions {
  bool printIRAfterAll = false;
  std::string printIRAfter; ///< pass argument, e.g. "convert-ssm-to-linalg"
  /// `ssmc compile --scan=loop|all-chunks`: overrides the target's
  /// scanAllChunks (CPUTargetDesc, CUDATargetDesc) when set.
  std::optional<bool> scanAllChunks;
  /// `ssmc compile --pass-options='name{key=value ...}'`: options set on
  /// every occurrence of pass `name` in the pipeline (keys it already has
  /// are replaced). For tuning and A/B builds; `ssmc compile` checks that
  /// each names a registered pass.
  std::vector<std::string> passOptions;
};

/// `pipeline` with each of `overrides` ("name{key=value ...}") applied (see
/// CompileOptions::passOptions).
llvm::Expected<std::string> withPassOptions(llvm::StringRef pipeline,
                                            llvm::ArrayRef<std::string> overrides);

/// Runs a textual pass pipeline (implicitly nested, e.g. "canonicalize,
/// func.func(cse)") on `module`, printing IR after passes as `options` asks.
llvm::Error runPipeline(mlir::ModuleOp module, llvm::StringRef pipeline,
                        const CompileOptions &options);

/// Runs the ssm and upstream passes on `module` (an imported model) down to
/// the LLVM dialect. The layout of the weight section is left on the module
/// as `ssm.weight_layout`.
llvm::Error lowerToLLVMDialect(mlir::ModuleOp module, const CPUTargetDesc &target,
                               const CompileOptions &options);

/// The pass pipeline for `target`, in textual form (what `ssmc-opt` accepts).
std::string pipelineFor(const CPUTargetDesc &target);

/// Translates the lowered module to LLVM IR text (`--emit=llvm`).
llvm::Expected<std::string> emitLLVMIR(mlir::ModuleOp module, const CPUTargetDesc &target);
/// Emits an object file (or assembly) for the target.
llvm::Expected<std::vector<char>> emitMachineCode(mlir::ModuleOp module,
                                                  const CPUTargetDesc &target, bool assembly);

/// One recurrent-state argument of @forward, as the launch code sees it.
struct StateArg {
  std::string name;
  std::vector<int64_t> shape; ///< per sequence; per token when growsWithContext
  unsigned elementBytes = 4;
  std::string dtype;          ///< "f32", ...
  /// A KV cache: the tensor is [batch, max_context, shape...] and a runtime
  /// row holds max_context tokens (runtime/include/ssmc/abi.h).
  bool growsWithContext = false;
};

/// C source of the launch code: exports `ssmc_abi_version`, `ssmc_prefill`
/// and `ssmc_decode` and calls `_mlir_ciface_forward` with memref
/// descriptors built from an ssmc_call (gathering and scattering state rows
/// by slot, picking each sequence's last-position logits).
std::string generateLaunchCode(const std::vector<StateArg> &states, int64_t vocab,
                               bool takesPositions);

/// Compiles the launch code with the model object into a shared object for
/// the target (clang-22 and lld from the LLVM 22 installation).
llvm::Expected<std::vector<char>> linkSharedObject(const CPUTargetDesc &target,
                                                   const std::vector<char> &modelObject,
                                                   const std::string &launchCode);

} // namespace ssmc::cpu

#endif // SSMC_TARGETS_CPU_CPUTARGET_H
