//===- Passes.td - Passes of the ssmc pipeline -------------*- tablegen -*-===//
//
// One entry per pass; `registerSSMCPasses()` (generated) registers them all.
//
//===----------------------------------------------------------------------===//
#ifndef SSMC_PASSES_PASSES_TD
#define SSMC_PASSES_PASSES_TD

include "mlir/Pass/PassBase.td"

def SSMDecomposeModel : Pass<"ssm-decompose-model"> {
  let summary = "Rewrite model-level ssm ops into ssm building blocks";
  let description = [{
    Replaces `ssm.discrete_mamba2`, `ssm.mamba2` and `ssm.swiglu_mlp` by the
    building blocks their descriptions spell out: `ssm.linear` projections,
    `tensor.extract_slice`/`tensor.expand_shape` splits, `ssm.causal_conv1d`,
    float32 decay math in `linalg.generic`, `ssm.chunked_scan` (chunk from the
    op's config), the gate or `ssm.gated_rms_norm`, and the output
    projection. Shapes, element types and states are preserved; projections
    round to the model element type and the decay and scan stay float32.
    `ssm.attention` is left as is. `chunk` > 0 replaces the model's scan
    chunk length: the target picks it (the intra-chunk work per token grows
    with the chunk, the inter-chunk work does not).
  }];
  let options = [Option<"chunk", "chunk", "int64_t", "0",
                        "scan chunk length; 0 keeps the model's">];
  let dependentDialects = ["::mlir::linalg::LinalgDialect", "::mlir::tensor::TensorDialect",
                           "::mlir::arith::ArithDialect", "::mlir::math::MathDialect"];
}

def ConvertSSMToLinalg : Pass<"convert-ssm-to-linalg"> {
  let summary = "Lower ssm building blocks and state types to linalg/scf on tensors";
  let description = [{
    Lowers `ssm.linear` (non-quantized weights), `ssm.rms_norm` (both rounding
    orders), `ssm.gated_rms_norm`, `ssm.add`, `ssm.embed` and `ssm.lm_head` to
    `linalg.generic` / `tensor` / `arith` / `math` on tensors with float32
    accumulation and one rounding to the result type where the op documents
    it.

    The state types become batch tensors (`!ssm.conv_state<C x W x T>` ->
    `tensor<? x C x W x T>`, likewise `!ssm.ssm_state` and `!ssm.kv_cache`),
    in `func.func` signatures, `func.return` and `func.call` too, and the
    stateful blocks are lowered: `ssm.causal_conv1d` (state and sequence
    concatenated into one history tensor, a windowed reduction, the new state
    gathered at `lengths`), `ssm.causal_conv1d_step` (shift, append,
    reduce), `ssm.selective_scan` and `ssm.state_update` (an `scf.for` over
    time carrying the float32 state; padding tokens leave it unchanged).
    `ssm.chunked_scan` becomes the chunked SSD algorithm of spec 1.6 with
    the op's `chunk` length (ChunkedScanLowering.cpp): by default an
    `scf.for` over chunks carrying the state; with `scan-all-chunks-at-once`
    every whole chunk in the same ops (what a GPU wants: chunks x heads
    independent tiles per kernel, the inter-chunk recurrence one op whose
    chunk loop is sequential), at the cost of per-chunk states in memory.

    Quantized weights and `ssm.attention` are left for later passes; the
    latter reads and writes its `kv_cache` through
    `builtin.unrealized_conversion_cast`.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect", "::mlir::tensor::TensorDialect",
                           "::mlir::arith::ArithDialect", "::mlir::math::MathDialect",
                           "::mlir::scf::SCFDialect", "::mlir::func::FuncDialect"];
  let options = [
    Option<"scanAllChunksAtOnce", "scan-all-chunks-at-once", "bool", "false",
           "lower ssm.chunked_scan with all whole chunks in the same ops">];
}

def SSMBindWeights : Pass<"ssm-bind-weights", "::mlir::ModuleOp"> {
  let summary = "Lay out the weight section and read ssm.weight from it";
  let description = [{
    Assigns every distinct `ssm.weight` name an offset in one weight section
    (first use order, each weight aligned to `alignment` bytes, stored in the
    weight's IR element type) and records the layout on the module as
    `ssm.weight_layout` (name, offset, bytes, type per weight) and
    `ssm.weight_section_bytes`: the compiler driver writes the artifact's
    weight section by this table, so IR and data cannot disagree. Each
    function that reads weights gets a leading `memref<?xi8>` argument (the
    base of the section, named `weights`), and each `ssm.weight` becomes a
    `memref.view` of it at its offset wrapped in a restrict
    `bufferization.to_tensor`: weights stay external, never copied or inlined.
    Quantized weights are rejected until their layout exists.
  }];
  let options = [Option<"alignment", "alignment", "int64_t", "64",
                        "byte alignment of each weight in the section">];
  let dependentDialects = ["::mlir::memref::MemRefDialect",
                           "::mlir::bufferization::BufferizationDialect",
                           "::mlir::arith::ArithDialect"];
}

def SSMVectorizeProjections : Pass<"ssm-vectorize-projections"> {
  let summary = "Register-blocked, vectorized, task-parallel projections on buffers";
  let description = [{
    Rewrites each projection `out[b.., n] += x[b.., k] * w[n, k]` (the
    linalg.generic that `ssm.linear` and `ssm.lm_head` lower to, after
    bufferization) into an `scf.parallel` over tasks of weight rows, each a
    loop over tiles of `tile-rows` activation rows and, inside, register
    blocks of `rows` activation rows by `cols` weight rows with one
    `vector<vector-width x f32>` accumulator per pair along k, reduced once.
    Half-precision weights are widened in registers (bf16 by a shift);
    activations are made f32 and contiguous once. Projections whose shapes do
    not fit (k not a multiple of `vector-width`, a weight row that is not
    contiguous) are left unchanged. The chosen numbers are the target's (see
    targets/cpu): register count and vector width decide `rows` x `cols`.
  }];
  let options = [
    Option<"vectorWidth", "vector-width", "int64_t", "8", "f32 lanes per vector register">,
    Option<"rows", "rows", "int64_t", "4", "activation rows per register block">,
    Option<"cols", "cols", "int64_t", "3", "weight rows per register block">,
    Option<"tileRows", "tile-rows", "int64_t", "64", "activation rows per cache tile">,
    Option<"taskBlocks", "task-blocks", "int64_t", "16",
           "most register blocks of weight rows per parallel task">,
  ];
  let dependentDialects = ["::mlir::vector::VectorDialect", "::mlir::scf::SCFDialect",
                           "::mlir::memref::MemRefDialect", "::mlir::arith::ArithDialect"];
}

def SSMOutlineParallelLoops : Pass<"ssm-outline-parallel-loops", "::mlir::ModuleOp"> {
  let summary = "Run scf.parallel loops on the runtime's threads";
  let description = [{
    Outlines the body of each outermost `scf.parallel` (on buffers, without
    reductions) into a function `(ctx, begin, end)` that runs iterations
    [begin, end) of its outer dimensions, linearized, in order (the innermost
    dimension of a multi-dimensional loop stays a serial inner loop, for
    vectorization); stores the captured values in a stack record (a memref as
    its descriptor fields, a scalar as 64 bits; constants are re-created in
    the body instead) and replaces the loop by
    `call @ssmc_parallel_for(n, body, ctx)`. The target's launch code defines
    `ssmc_parallel_for` on top of the runtime's `parallel_for`
    (runtime/include/ssmc/abi.h). Loops whose captures cannot be passed stay
    as they are (serial).
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect", "::mlir::func::FuncDialect",
                           "::mlir::scf::SCFDialect", "::mlir::memref::MemRefDialect",
                           "::mlir::arith::ArithDialect"];
}

def SSMLowerReductions : Pass<"ssm-lower-reductions"> {
  let summary = "Reductions on buffers to loops with the accumulator in a register";
  let description = [{
    Lowers each linalg.generic on buffers whose reduction loops are its
    innermost loops (and whose single output is indexed by the parallel loops)
    to an `scf.parallel` over the parallel loops containing one load of the
    output element, an `scf.for` nest over the reduction loops carrying the
    accumulator as an iter_arg, and one store. Linalg semantics allow it
    (the output element is read once and written once); the upstream loop
    lowering instead loads and stores it on every iteration, which LLVM can
    neither keep in a register nor vectorize. The combining arith op gets the
    `reassoc` fast-math flag so the sum can be vectorized.
  }];
  let dependentDialects = ["::mlir::scf::SCFDialect", "::mlir::memref::MemRefDialect",
                           "::mlir::affine::AffineDialect", "::mlir::arith::ArithDialect"];
}

def SSMApproximateExp : Pass<"ssm-approximate-exp"> {
  let summary = "Float32 math.exp as upstream's polynomial approximation";
  let description = [{
    Rewrites `math.exp` (f32, scalar or vector) with upstream MLIR's
    polynomial approximation, so loops that take exponentials (the chunked
    scan's decay matrix) vectorize instead of calling libm's expf. Other
    math ops are left to libm.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::vector::VectorDialect",
                           "::mlir::math::MathDialect"];
}

def SSMFuseElementwise : Pass<"ssm-fuse-elementwise"> {
  let summary = "Fuse chains of elementwise linalg.generic ops on tensors";
  let description = [{
    Upstream's elementwise producer-consumer fusion, restricted to producers
    with one use fused into all-parallel consumers: chains such as a
    projection's rounding, the gate's silu and product, masking and casts
    become one loop nest and their intermediates never reach memory. Every
    op's rounding stays in the fused body (results are unchanged).
    Reductions (projections, norms' sums) are never fused into, so
    ssm-vectorize-projections still sees every projection; with
    `into-batched-contractions`, producers made of arith ops only also fuse
    into batched contractions (one reduction, two or more inputs sharing a
    parallel loop: the chunked scan's sums), whatever their other users.
  }];
  let options = [
    Option<"intoBatchedContractions", "into-batched-contractions", "bool", "false",
           "also fuse arith-only producers into batched contractions (for "
           "kernels that compute their operands once per tile)">];
  let dependentDialects = ["::mlir::linalg::LinalgDialect", "::mlir::affine::AffineDialect"];
}

def SSMPrivatizeFills : Pass<"ssm-privatize-fills"> {
  let summary = "Give every user of a shared zero fill its own fill";
  let description = [{
    A `linalg.fill` of a `tensor.empty` (CSE merges equal fills, and may
    hoist them far from their users) is cloned, with its empty tensor, right
    before each of its users.
    Bufferization then writes each fill in place instead of copying the
    shared filled buffer once per accumulating op; run it right before
    one-shot-bufferize (after the last CSE).
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect", "::mlir::tensor::TensorDialect"];
}

def SSMReturnUpdatedArguments : Pass<"ssm-return-updated-arguments", "::mlir::func::FuncOp"> {
  let summary = "Return state arguments updated in place instead of their clones";
  let description = [{
    After bufferization and the ownership-based deallocation, a function
    result that is a fresh allocation filled only by a copy of an argument
    of the same type (the deallocation's clone of a state updated in place),
    with nothing between the copy and the return that could write the
    argument, is replaced by the argument itself: no allocation and no copy
    of the state per call. The caller must accept results that alias its
    arguments (the launch code does: such a state was updated in place).
  }];
  let dependentDialects = ["::mlir::memref::MemRefDialect"];
}

def SSMElideResultCopies : Pass<"ssm-elide-result-copies"> {
  let summary = "Write a result into the buffer it is copied to";
  let description = [{
    On buffers: a `memref.copy` from a new allocation (or its collapse_shape)
    that one all-parallel linalg.generic overwrote, with only view, size and
    constant ops between the two, becomes that generic writing the copy's
    destination (through the inverse expand_shape) directly. The chunked
    scan's y for all whole chunks is inserted, reshaped, into the sequence's
    y this way without a copy kernel.
  }];
  let dependentDialects = ["::mlir::memref::MemRefDialect"];
}

#endif // SSMC_PASSES_PASSES_TD
