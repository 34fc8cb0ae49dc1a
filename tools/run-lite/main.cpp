//===- main.cpp - ssmc-run-lite -------------------------------------------===//
//
// `ssmc run` for machines without LLVM/MLIR: links libssmc_runtime.so only.
//
//===----------------------------------------------------------------------===//

#include "tools/run-lite/Generate.h"

int main(int argc, char **argv) { return ssmc::tools::runGenerate("ssmc-run-lite", argc, argv); }
