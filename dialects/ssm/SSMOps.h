//===- SSMOps.h - Operations of the ssm dialect -----------------*- C++ -*-===//
#ifndef SSMC_DIALECTS_SSM_SSMOPS_H
#define SSMC_DIALECTS_SSM_SSMOPS_H

#include "dialects/ssm/SSMAttrs.h"
#include "dialects/ssm/SSMDialect.h"
#include "dialects/ssm/SSMTypes.h"

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#define GET_OP_CLASSES
#include "dialects/ssm/SSMOps.h.inc"

#endif // SSMC_DIALECTS_SSM_SSMOPS_H
