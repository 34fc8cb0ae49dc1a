//===- ssmc-opt.cpp - mlir-opt for ssmc -----------------------------------===//
//
// Registers the ssm dialect, the upstream dialects the pipeline lowers
// through, and every ssmc pass; behaves like mlir-opt.
//
//===----------------------------------------------------------------------===//

#include "compiler/ssmc-opt/Registration.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  ssmc::registerSSMCDialects(registry);
  ssmc::registerSSMCPasses();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "ssmc optimizer driver\n", registry));
}
