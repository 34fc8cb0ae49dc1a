// Placeholder: replaced by the Import command implementation.
#include "compiler/ssmc/Commands.h"
#include "llvm/Support/raw_ostream.h"
int ssmc::driver::runImport(int, char **) {
  llvm::errs() << "ssmc: error: command not implemented yet\n";
  return 1;
}
