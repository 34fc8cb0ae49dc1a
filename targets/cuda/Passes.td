//===- Passes.td - GPU mapping passes of the CUDA target ---*- tablegen -*-===//
//
// The small steps the CUDA pipeline needs between upstream passes. Each one
// prepares IR for an upstream pass (parallel-loop mapping, kernel outlining,
// NVVM conversion) rather than replacing it.
//
//===----------------------------------------------------------------------===//
#ifndef SSMC_TARGETS_CUDA_PASSES_TD
#define SSMC_TARGETS_CUDA_PASSES_TD

include "mlir/Pass/PassBase.td"

def GPUCopyToLinalg : Pass<"ssm-gpu-copy-to-linalg"> {
  let summary = "Rewrite memref.copy as linalg.copy";
  let description = [{
    Bufferization leaves `memref.copy`, which lowers to a host loop or to a
    call of the runner library's `memrefCopy`. On a GPU target every copy
    must run on the device: as `linalg.copy` it becomes a parallel loop and
    then a kernel like any other linalg op.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

def GPUProjections : Pass<"ssm-gpu-projections", "::mlir::ModuleOp"> {
  let summary = "Projections as warp-per-row kernels (few rows) or vendor GEMM calls";
  let description = [{
    Replaces every projection `out[b.., n] += x[b.., k] * w[n, k]` on
    buffers (passes/ProjectionMatch.h) by a run-time choice on the number of
    activation rows M. For M <= `max-rows`, a `gpu.launch` in which each warp
    computes one weight row against all rows, in tiles of `rows-per-tile`
    register accumulators, with 16-byte coalesced loads of the weight row and
    a shuffle reduction; `unroll` steps of the row are loaded before they
    are used, and a zero `linalg.fill` of the output just before the
    projection is folded into the kernel (it stores instead of adding).
    With few weight rows (fewer than `min-warps`), 2 or 4 warps share a row,
    each summing a slice of k, and add their sums in workgroup memory.
    Otherwise (with `vendor-gemm`) a call of
    `@ssmc_gpu_gemm_<x>_<w>(x, w, out) -> i32` (unranked memrefs; the launch
    code defines it on the device's vendor GEMM); a non-zero result means
    "unsupported here" and the original linalg op runs instead.
  }];
  let options = [
    Option<"maxRows", "max-rows", "int64_t", "4",
           "largest number of activation rows that takes the warp kernel (more "
           "rows re-stream the weights once per tile; the H100 measured batch "
           "16 decode of llamba-8b at 456 tok/s this way, 1938 at batch 32 with "
           "cuBLAS)">,
    Option<"rowsPerTile", "rows-per-tile", "int64_t", "4",
           "activation rows whose accumulators a warp keeps in registers">,
    Option<"warpsPerBlock", "warps-per-block", "int64_t", "8", "warps (weight rows) per block">,
    Option<"minWarps", "min-warps", "int64_t", "4096",
           "split each weight row's k over 2 or 4 warps while the kernel has fewer "
           "warps (0: never; measured on the H100: 8192 made llamba-8b's 4096-row "
           "projections 1-2% slower, 4096 leaves them whole)">,
    Option<"minWarpK", "min-warp-k", "int64_t", "4096",
           "fewest elements of a weight row one warp sums after a split (short "
           "slices cost more in the combine than they save: llamba-1b's down "
           "projection took 17.0 us split 4 ways, 15.5 split 2, 21.9 whole)">,
    Option<"unroll", "unroll", "int64_t", "4",
           "512-byte steps of a weight row whose loads a warp issues together">,
    Option<"mergeSiblings", "merge-siblings", "bool", "true",
           "merge two projections of the same activations whose weights are "
           "adjacent (the MLP's gate and up) into one">,
    Option<"vendorGemm", "vendor-gemm", "bool", "true",
           "call the device's vendor GEMM for more than max-rows rows">];
  let dependentDialects = ["::mlir::gpu::GPUDialect", "::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect", "::mlir::arith::ArithDialect",
                           "::mlir::memref::MemRefDialect", "::mlir::func::FuncDialect"];
}

def GPUTileContractions : Pass<"ssm-gpu-tile-contractions"> {
  let summary = "Batched contractions as shared-memory tiled kernels";
  let description = [{
    A linalg.generic on buffers with one reduction loop k of static extent
    (a multiple of 16), every input read at a projected permutation that
    includes k, a body ending in `out + term`, and parallel loops made of
    batch loops (read by every input) plus one loop i and one loop j that no
    input reads together (the chunked scan's C B^T, S . C, Y_diag and chunk
    state sums): one block of 256 threads per batch index and T x T output
    tile (T = 64, or 32 when that gives fewer than `min-blocks` blocks; a
    dynamic batch loop counts as 1, a second dynamic one, the all-chunks
    scan's chunk loop, as 8),
    operands staged in 16-wide K-slices in workgroup memory, (T/16)^2 sums
    per thread in registers. The term is the op's body cloned per element.
    A zero fill of the output right before and an elementwise consumer of
    the output at the same indices are folded into the kernel.
    With `tensor-cores`, in a module whose `ssm.model` dtype is bf16 or f16,
    a term that is a product of factors reading i or j (not both) runs on
    `nvvm.mma.sync` m16n8k16 with f32 accumulation: the i-side and j-side
    products are rounded to the model's type as they are staged (8 warps as
    2 x 4, K-slices of 32 when k allows). Float32 models keep f32 FMA.
    Each side is staged in the layout of its global reads: [row][k] when
    its first operand has k innermost, else [k][row]. With `vector-staging`,
    a side of whole tiles whose operands' views are aligned (checked at run
    time, uniform) is read with one vector load per operand and thread
    (8 k-consecutive elements, or 4 row-consecutive ones at two k) and
    stored with one vector store per run; with `ldmatrix` the fragments are
    read by `nvvm.ldmatrix` (transposed for [k][row] sides). A contraction
    whose consumer also reads another contraction's sums over the same tiles
    (the scan's S . C beside Y_diag) computes both in one kernel; when the
    consumer reads `sib + g * out`, the sums chain (g * out starts the
    sibling's accumulators). With `async-copy-stages` S > 1, a vector-way
    side that is one model-type operand goes from global to workgroup
    memory by cp.async into S stages (S - 1 slices ahead, fewer stages when
    48 KB do not hold them); a sibling's first slices are issued before the
    kernel op's loop (`sibling-copies-first`). With `fuse-produced-side`, a
    sibling's i-side operand written by the elementwise consumer of another
    contraction (the scan's W) is computed in the kernel into a resident
    workgroup tile. With `staged-stores`, whole half-precision output tiles
    go out through workgroup memory as 16-byte vectors.
  }];
  let options = [
    Option<"minBlocks", "min-blocks", "int64_t", "264",
           "fewest blocks (for a static problem) worth 64 x 64 tiles">,
    Option<"tensorCores", "tensor-cores", "bool", "true",
           "use mma.sync for half-precision models (sm_80 and later)">,
    Option<"vectorStaging", "vector-staging", "bool", "true",
           "tensor cores: stage aligned whole-tile sides with vector loads and stores">,
    Option<"ldmatrix", "ldmatrix", "bool", "true",
           "tensor cores: read the mma fragments with ldmatrix">,
    Option<"prefetchDepth", "prefetch-depth", "int64_t", "1",
           "tensor cores: K-slices whose global loads are in flight (in registers) "
           "while a slice is multiplied">,
    Option<"asyncCopyStages", "async-copy-stages", "int64_t", "2",
           "tensor cores, vector way: workgroup tiles per side that cp.async "
           "fills ahead of the mma steps for sides that are one model-type "
           "operand (fewer when 48 KB do not hold them; 0 or 1: registers)">,
    Option<"stagedStores", "staged-stores", "bool", "false",
           "tensor cores: a whole half-precision output tile is stored through "
           "workgroup memory as 16-byte vectors (whole sectors)">,
    Option<"fuseProducedSide", "fuse-produced-side", "bool", "false",
           "tensor cores: a sibling's i-side operand that an elementwise consumer "
           "of another contraction's sums writes (the scan's W) is computed in "
           "the kernel into workgroup memory, not read from global memory">,
    Option<"siblingCopiesFirst", "sibling-copies-first", "bool", "true",
           "async copies: a sibling's first slices are issued before the kernel "
           "op's k loop">,
    Option<"minBlocksPerSM", "min-blocks-per-sm", "int64_t", "3",
           "blocks of a kernel with sibling sums that should fit on a "
           "multiprocessor at once (ptxas limits registers to match; 0: none)">];
  let dependentDialects = ["::mlir::gpu::GPUDialect", "::mlir::scf::SCFDialect",
                           "::mlir::arith::ArithDialect", "::mlir::memref::MemRefDialect",
                           "::mlir::NVVM::NVVMDialect", "::mlir::LLVM::LLVMDialect",
                           "::mlir::vector::VectorDialect"];
}

def GPUPrefixSums : Pass<"ssm-gpu-prefix-sums"> {
  let summary = "Sums over a triangular mask (cumulative sums) as one warp scan per row";
  let description = [{
    A linalg.generic computing out[.., l] (+)= sum over k <= l of in[.., k]
    (one input, one f32 output, the reduced loop k and the output loop l of
    one static extent E, a multiple of 32 up to 512; body `out + select(k <=
    l, in, 0)`): the chunked scan's cumulative decay. One warp per row: each
    lane sums E/32 consecutive terms, the lanes' totals are scanned with
    `gpu.shuffle up`, each lane stores its running totals plus the lanes'
    before it. A zero fill right before is folded.
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect", "::mlir::scf::SCFDialect",
                           "::mlir::arith::ArithDialect", "::mlir::memref::MemRefDialect"];
}

def GPUBlockReductions : Pass<"ssm-gpu-block-reductions"> {
  let summary = "Sum reductions as kernels with one block or one warp per output element";
  let description = [{
    A linalg.generic on buffers whose only reduction is its last loop, with
    projected-permutation indexing and a body ending in `out + term`:
    with a static extent of at least `min-extent` (the model's norms) it
    becomes a `gpu.launch` with one block per output element: threads
    stride the reduced dimension, sum in registers, and combine with
    `gpu.all_reduce`. A shorter or dynamic f32 reduction over a dimension
    that is the innermost index of every input reading it (the chunked
    scan's contractions over the state dimension, its cumulative sum) gets
    one warp per output element, 8 per block, combined with shuffles.
    A zero fill of the output right before is folded (the sum is stored),
    and so is the elementwise op that consumes the sums (a norm's scaling of
    its row, read through a broadcast: the block's threads share the row;
    the scan's output after S . C: the warp's lane 0). The summation order
    changes; nothing else does.
  }];
  let options = [
    Option<"minExtent", "min-extent", "int64_t", "128",
           "shortest reduced dimension worth a block">,
    Option<"threadsPerBlock", "threads-per-block", "int64_t", "256",
           "most threads per output element (a multiple of 32)">];
  let dependentDialects = ["::mlir::gpu::GPUDialect", "::mlir::scf::SCFDialect",
                           "::mlir::arith::ArithDialect", "::mlir::memref::MemRefDialect"];
}

def GPULowerAllReduce : Pass<"ssm-gpu-lower-all-reduce", "::mlir::gpu::GPUModuleOp"> {
  let summary = "Lower gpu.all_reduce in kernels to shuffles and workgroup memory";
  let description = [{
    Applies upstream `populateGpuAllReducePatterns`: each warp reduces with
    shuffles, warp results meet in a workgroup buffer added to the kernel,
    and one warp reduces those. Runs on outlined kernels, before
    convert-gpu-to-nvvm (which does not lower gpu.all_reduce).
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect", "::mlir::arith::ArithDialect",
                           "::mlir::memref::MemRefDialect", "::mlir::cf::ControlFlowDialect"];
}

def GPUParallelDimsFirst : Pass<"ssm-gpu-parallel-dims-first"> {
  let summary = "Interchange linalg.generic loops so that all parallel dimensions come first";
  let description = [{
    Only the outermost parallel loop of a linalg op becomes GPU threads
    (convert-linalg-to-parallel-loops keeps the op's loop order, and
    ssm-gpu-tile-parallel-loops maps the outermost scf.parallel). A
    reduction dimension between parallel ones would leave the inner parallel
    dimensions sequential in every thread. This pass interchanges such ops
    (`linalg::interchangeGenericOp`) to put every parallel dimension first,
    keeping the order within parallel and within reduction dimensions.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

def GPUTileParallelLoops : Pass<"ssm-gpu-tile-parallel-loops"> {
  let summary = "Collapse each outermost scf.parallel to one dimension and tile it by the block size";
  let description = [{
    Every outermost `scf.parallel` (outside `gpu.launch`) is collapsed to a
    single dimension (`collapseParallelLoops`) and tiled by `block-size`
    (`tileParallelLoop`, constant inner bounds with a guard). The outer loop
    then maps to the grid and the inner one to the threads of a block
    (`gpu-map-parallel-loops`), whatever the rank of the original loop: no
    loop dimension is left sequential and no grid dimension exceeds the
    x-dimension limit.
  }];
  let options = [Option<"blockSize", "block-size", "int64_t", "256",
                        "threads per block">];
  let dependentDialects = ["::mlir::scf::SCFDialect", "::mlir::affine::AffineDialect",
                           "::mlir::arith::ArithDialect"];
}

def GPUHostDeviceMemory : Pass<"ssm-gpu-host-device-memory", "::mlir::ModuleOp"> {
  let summary = "Place buffers on the device or the host after kernels are formed";
  let description = [{
    Runs after `convert-parallel-loops-to-gpu`. A buffer (a `memref.alloc`,
    followed through views, loop-carried values and selects) that a
    `gpu.launch` uses becomes `gpu.alloc` and its `memref.dealloc`s become
    `gpu.dealloc`; buffers only the host touches stay host memory. Function
    arguments are device buffers. Where host code loads from an integer
    argument (sequence lengths, positions: attention sizes its KV window on
    the host), the function gets an extra argument, the same data in host
    memory, marked `ssmc.host_mirror_of = <index>`, and the host loads read it.
    Any other host access to device memory is an error.
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect", "::mlir::memref::MemRefDialect"];
}

def GPUMergeModules : Pass<"ssm-gpu-merge-modules", "::mlir::ModuleOp"> {
  let summary = "Move every outlined kernel into one gpu.module";
  let description = [{
    `gpu-kernel-outlining` creates a `gpu.module` per kernel. One module
    gives one PTX file (one `cuModuleLoadData`, one ptxas run) holding every
    kernel; `gpu.launch_func` references are updated.
  }];
  let options = [Option<"moduleName", "module-name", "std::string", "\"ssmc_kernels\"",
                        "name of the merged gpu.module">];
  let dependentDialects = ["::mlir::gpu::GPUDialect"];
}

def GPUKernelOccupancy : Pass<"ssm-gpu-kernel-occupancy", "::mlir::gpu::GPUModuleOp"> {
  let summary = "Turn occupancy requests inside kernels into NVVM kernel attributes";
  let description = [{
    A pass that builds a `gpu.launch` can ask for at least N resident blocks
    per multiprocessor by putting `ssmc.min_blocks_per_sm = N` on an op of
    its body (`gpu-kernel-outlining` keeps no attribute of the launch
    itself). Here each kernel containing such an op gets `nvvm.minctasm = N`
    (the largest request) and `nvvm.maxntid` = its known block size, from
    which ptxas derives its register limit; the requests are removed. A
    request in a kernel without a known block size is an error.
  }];
  let dependentDialects = ["::mlir::NVVM::NVVMDialect"];
}

def GPUAlignWorkgroupMemory
    : Pass<"ssm-gpu-align-workgroup-memory", "::mlir::gpu::GPUModuleOp"> {
  let summary = "Align the kernels' workgroup buffers for 16-byte accesses";
  let description = [{
    Runs after `convert-gpu-to-nvvm`, which lowers workgroup attributions to
    address-space-3 `llvm.mlir.global`s without an alignment (LLVM then uses
    the element's). Every such global gets at least `alignment` bytes, as
    the tiled contractions' `ldmatrix` and vector staging stores need.
  }];
  let options = [Option<"alignment", "alignment", "int64_t", "16",
                        "the least alignment in bytes (a power of 2)">];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

def GPUExpandMath : Pass<"ssm-gpu-expand-math", "::mlir::gpu::GPUModuleOp"> {
  let summary = "Replace math functions in kernels by polynomial approximations";
  let description = [{
    `convert-gpu-to-nvvm` lowers every `math` op to a call into NVIDIA's
    libdevice, which must then be linked from a CUDA toolkit. To keep PTX
    generation independent of the toolkit, exp/log/log1p/tanh/erf/sin/cos and
    friends become MLIR's f32 polynomial approximations (half-precision
    operands are widened to f32 first). The ops the NVPTX backend selects
    natively (sqrt, abs, fma, floor, ceil, trunc, copysign; rsqrt as
    1/sqrt) become `llvm.call_intrinsic`: convert-gpu-to-nvvm would make
    them libdevice calls and rejects their `llvm.intr.*` forms. Any other
    `math` op left is reported as unsupported.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::vector::VectorDialect",
                           "::mlir::math::MathDialect", "::mlir::LLVM::LLVMDialect"];
}

#endif // SSMC_TARGETS_CUDA_PASSES_TD
