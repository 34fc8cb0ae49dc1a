//===- SSMAttrs.cpp - Attributes of the ssm dialect -----------------------===//

#include "dialects/ssm/SSMAttrs.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace ssmc::ssm;

#include "dialects/ssm/SSMEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "dialects/ssm/SSMAttrs.cpp.inc"

void SSMDialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "dialects/ssm/SSMAttrs.cpp.inc"
      >();
}

namespace {
/// Emits "<what> must be positive, got <v>" when v <= 0.
LogicalResult checkPositive(function_ref<InFlightDiagnostic()> emitError, StringRef what,
                            int64_t v) {
  if (v > 0)
    return success();
  return emitError() << what << " must be positive, got " << v;
}

/// Emits "<a> (<va>) must be a multiple of <b> (<vb>)" unless vb divides va.
LogicalResult checkDivides(function_ref<InFlightDiagnostic()> emitError, StringRef a, int64_t va,
                           StringRef b, int64_t vb) {
  if (vb > 0 && va % vb == 0)
    return success();
  return emitError() << a << " (" << va << ") must be a multiple of " << b << " (" << vb << ")";
}
} // namespace

LogicalResult RopeAttr::verify(function_ref<InFlightDiagnostic()> emitError, APFloat theta,
                               int64_t dim, RopeScaling scaling, APFloat factor,
                               APFloat lowFreqFactor, APFloat highFreqFactor,
                               int64_t originalMaxPositions) {
  if (!(theta.convertToDouble() > 0.0))
    return emitError() << "rope theta must be positive";
  if (dim <= 0 || dim % 2 != 0)
    return emitError() << "rope dim must be positive and even, got " << dim;
  if (scaling == RopeScaling::llama3) {
    if (!(factor.convertToDouble() > 0.0))
      return emitError() << "llama3 rope factor must be positive";
    if (!(highFreqFactor.convertToDouble() > lowFreqFactor.convertToDouble()))
      return emitError() << "llama3 rope needs high_freq_factor > low_freq_factor";
    if (originalMaxPositions <= 0)
      return emitError() << "llama3 rope original_max_positions must be positive";
  }
  return success();
}

LogicalResult DiscreteMamba2ConfigAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                               int64_t heads, int64_t headDim, int64_t groups,
                                               int64_t state, int64_t conv, int64_t chunk) {
  if (failed(checkPositive(emitError, "heads", heads)) ||
      failed(checkPositive(emitError, "head_dim", headDim)) ||
      failed(checkPositive(emitError, "groups", groups)) ||
      failed(checkPositive(emitError, "state", state)) ||
      failed(checkPositive(emitError, "conv", conv)) ||
      failed(checkPositive(emitError, "chunk", chunk)))
    return failure();
  return checkDivides(emitError, "heads", heads, "groups", groups);
}

LogicalResult Mamba2ConfigAttr::verify(function_ref<InFlightDiagnostic()> emitError, int64_t heads,
                                       int64_t headDim, int64_t state, int64_t xHeads,
                                       int64_t bGroups, int64_t cGroups, int64_t conv,
                                       int64_t chunk, int64_t normGroup, APFloat normEps) {
  if (failed(checkPositive(emitError, "heads", heads)) ||
      failed(checkPositive(emitError, "head_dim", headDim)) ||
      failed(checkPositive(emitError, "state", state)) ||
      failed(checkPositive(emitError, "x_heads", xHeads)) ||
      failed(checkPositive(emitError, "b_groups", bGroups)) ||
      failed(checkPositive(emitError, "c_groups", cGroups)) ||
      failed(checkPositive(emitError, "conv", conv)) ||
      failed(checkPositive(emitError, "chunk", chunk)) ||
      failed(checkPositive(emitError, "norm_group", normGroup)))
    return failure();
  if (failed(checkDivides(emitError, "heads", heads, "x_heads", xHeads)) ||
      failed(checkDivides(emitError, "heads", heads, "b_groups", bGroups)) ||
      failed(checkDivides(emitError, "heads", heads, "c_groups", cGroups)) ||
      failed(checkDivides(emitError, "heads * head_dim", heads * headDim, "norm_group",
                          normGroup)))
    return failure();
  if (!(normEps.convertToDouble() > 0.0))
    return emitError() << "norm_eps must be positive";
  return success();
}

LogicalResult AttentionConfigAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                          int64_t heads, int64_t kvHeads, int64_t headDim,
                                          RopeAttr rope) {
  if (failed(checkPositive(emitError, "heads", heads)) ||
      failed(checkPositive(emitError, "kv_heads", kvHeads)) ||
      failed(checkPositive(emitError, "head_dim", headDim)))
    return failure();
  if (failed(checkDivides(emitError, "heads", heads, "kv_heads", kvHeads)))
    return failure();
  if (!rope)
    return emitError() << "attention needs a rope attribute";
  if (rope.getDim() > headDim)
    return emitError() << "rope dim (" << rope.getDim() << ") exceeds head_dim (" << headDim
                       << ")";
  return success();
}
