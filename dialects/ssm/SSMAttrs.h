//===- SSMAttrs.h - Attributes and enums of the ssm dialect -----*- C++ -*-===//
#ifndef SSMC_DIALECTS_SSM_SSMATTRS_H
#define SSMC_DIALECTS_SSM_SSMATTRS_H

#include "dialects/ssm/SSMDialect.h"

#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectImplementation.h"

#include "dialects/ssm/SSMEnums.h.inc"

namespace mlir {
/// Hyper-parameters such as eps and rope theta are IEEE doubles (APFloat with
/// double semantics), parsed from a float literal; printing uses
/// AsmPrinter::printFloat, which round-trips exactly.
template <>
struct FieldParser<llvm::APFloat> {
  static FailureOr<llvm::APFloat> parse(AsmParser &parser) {
    llvm::APFloat value(0.0);
    if (parser.parseFloat(llvm::APFloat::IEEEdouble(), value))
      return failure();
    return value;
  }
};
} // namespace mlir

#define GET_ATTRDEF_CLASSES
#include "dialects/ssm/SSMAttrs.h.inc"

#endif // SSMC_DIALECTS_SSM_SSMATTRS_H
