//===- Registration.h - Dialects and passes ssmc tools register -*- C++ -*-===//
#ifndef SSMC_COMPILER_SSMC_OPT_REGISTRATION_H
#define SSMC_COMPILER_SSMC_OPT_REGISTRATION_H

namespace mlir {
class DialectRegistry;
} // namespace mlir

namespace ssmc {
/// The ssm dialect and the upstream dialects (and their interface
/// extensions) that the pipeline lowers through.
void registerSSMCDialects(mlir::DialectRegistry &registry);
/// Every ssmc pass and the upstream passes the pipelines use.
void registerSSMCPasses();
} // namespace ssmc

#endif
