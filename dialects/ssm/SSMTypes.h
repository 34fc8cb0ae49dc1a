//===- SSMTypes.h - Types of the ssm dialect --------------------*- C++ -*-===//
#ifndef SSMC_DIALECTS_SSM_SSMTYPES_H
#define SSMC_DIALECTS_SSM_SSMTYPES_H

#include "dialects/ssm/SSMAttrs.h"

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Types.h"

#define GET_TYPEDEF_CLASSES
#include "dialects/ssm/SSMTypes.h.inc"

namespace ssmc::ssm {
/// Shape of a weight operand: a ranked tensor's shape or a qweight's N x K.
llvm::ArrayRef<int64_t> getWeightShape(mlir::Type type);
} // namespace ssmc::ssm

#endif // SSMC_DIALECTS_SSM_SSMTYPES_H
