//===- ssmc.cpp - The ssmc compiler driver --------------------------------===//
//
// `ssmc <command> [options]`. Dispatches to one of the subcommands declared in
// Commands.h.
//
//===----------------------------------------------------------------------===//

#include "compiler/ssmc/Commands.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/raw_ostream.h"

#include <string>

using namespace ssmc::driver;

namespace {
struct Command {
  const char *name;
  int (*run)(int, char **);
  const char *help;
};

const Command kCommands[] = {
    {"import", runImport, "print the ssm-dialect IR of a Hugging Face checkpoint directory"},
    {"inspect", runInspect, "list the tensors of a checkpoint directory or weight file"},
    {"compile", runCompile, "compile a checkpoint directory into a deployable artifact (.ssmx)"},
    {"run", runRun, "generate tokens with a compiled artifact"},
    {"bench", runBench, "prefill/decode throughput, memory and bandwidth of an artifact"},
    {"make-model", runMakeModel,
     "write a checkpoint directory of any family with seeded random weights"},
};

void printUsage(llvm::raw_ostream &os) {
  os << "OVERVIEW: ssmc, an ahead-of-time compiler for recurrent and hybrid language models\n\n"
        "USAGE: ssmc <command> [options]   (ssmc <command> --help for its options)\n\n"
        "COMMANDS:\n";
  for (const Command &c : kCommands)
    os << "  " << c.name << std::string(12 - std::string(c.name).size(), ' ') << c.help << "\n";
  os << "  version     print the ssmc version\n";
}
} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM initLLVM(argc, argv);
  if (argc < 2) {
    printUsage(llvm::errs());
    return 1;
  }
  llvm::StringRef name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    printUsage(llvm::outs());
    return 0;
  }
  if (name == "version" || name == "--version") {
    llvm::outs() << "ssmc " SSMC_VERSION "\n";
    return 0;
  }
  for (const Command &c : kCommands) {
    if (name != c.name)
      continue;
    std::string prog = std::string("ssmc ") + c.name;
    argv[1] = prog.data();
    return c.run(argc - 1, argv + 1);
  }
  llvm::errs() << "ssmc: error: unknown command '" << name << "' (see ssmc --help)\n";
  return 1;
}
