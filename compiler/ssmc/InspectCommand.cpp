// Placeholder: replaced by the Inspect command implementation.
#include "compiler/ssmc/Commands.h"
#include "llvm/Support/raw_ostream.h"
int ssmc::driver::runInspect(int, char **) {
  llvm::errs() << "ssmc: error: command not implemented yet\n";
  return 1;
}
