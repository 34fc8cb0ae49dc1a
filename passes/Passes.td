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
    `ssm.attention` is left as is.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect", "::mlir::tensor::TensorDialect",
                           "::mlir::arith::ArithDialect", "::mlir::math::MathDialect"];
}

def ConvertSSMToLinalg : Pass<"convert-ssm-to-linalg"> {
  let summary = "Lower stateless ssm building blocks to linalg on tensors";
  let description = [{
    Lowers `ssm.linear` (non-quantized weights), `ssm.rms_norm` (both rounding
    orders), `ssm.gated_rms_norm`, `ssm.add`, `ssm.embed` and `ssm.lm_head` to
    `linalg.generic` / `tensor` / `arith` / `math` on tensors with float32
    accumulation and one rounding to the result type where the op documents
    it. Ops with state operands and quantized weights are left for later
    passes.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect", "::mlir::tensor::TensorDialect",
                           "::mlir::arith::ArithDialect", "::mlir::math::MathDialect"];
}

#endif // SSMC_PASSES_PASSES_TD
