//===- SSMDialect.cpp - The ssm dialect -----------------------------------===//

#include "dialects/ssm/SSMDialect.h"
#include "dialects/ssm/SSMOps.h"

using namespace mlir;
using namespace ssmc::ssm;

#include "dialects/ssm/SSMDialect.cpp.inc"

void SSMDialect::initialize() {
  registerAttributes();
  registerTypes();
  addOperations<
#define GET_OP_LIST
#include "dialects/ssm/SSMOps.cpp.inc"
      >();
}
