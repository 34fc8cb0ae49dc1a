// Placeholder: replaced by the MakeModel command implementation.
#include "compiler/ssmc/Commands.h"
#include "llvm/Support/raw_ostream.h"
int ssmc::driver::runMakeModel(int, char **) {
  llvm::errs() << "ssmc: error: command not implemented yet\n";
  return 1;
}
