//===- RunCommand.cpp - ssmc run ------------------------------------------===//
//
// `ssmc run model.ssmx --prompt-ids 1,2,3[;4,5] --max-new-tokens N
//  [--temperature T --top-p P --seed S] [--threads K] [--prefill-chunk N]
//  [--logits-out out.json]` generates with the runtime's C API only (what a
// deployed program links): prefill of every prompt in one ragged batch, then
// decode in lockstep. The implementation is shared with ssmc-run-lite
// (tools/run-lite), which runs on machines without LLVM.
//
//===----------------------------------------------------------------------===//

#include "compiler/ssmc/Commands.h"

#include "tools/run-lite/Generate.h"

int ssmc::driver::runRun(int argc, char **argv) {
  return ssmc::tools::runGenerate("ssmc run", argc, argv);
}
