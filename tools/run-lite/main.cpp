//===- main.cpp - ssmc-run-lite -------------------------------------------===//
//
// `ssmc run` and `ssmc bench` for machines without LLVM/MLIR: links
// libssmc_runtime.so only.
//   ssmc-run-lite <model.ssmx> --prompt-ids ...     (as ssmc run)
//   ssmc-run-lite bench <model.ssmx> [--batch ...]  (the timing loop of ssmc bench)
//
//===----------------------------------------------------------------------===//

#include "tools/run-lite/Bench.h"
#include "tools/run-lite/Generate.h"

#include <cstring>
#include <string>

int main(int argc, char **argv) {
  if (argc >= 2 && std::strcmp(argv[1], "bench") == 0) {
    std::string prog = std::string(argv[0]) + " bench";
    argv[1] = prog.data();
    return ssmc::tools::runBenchLite("ssmc-run-lite bench", argc - 1, argv + 1);
  }
  return ssmc::tools::runGenerate("ssmc-run-lite", argc, argv);
}
