//===- Commands.h - Subcommands of the ssmc driver ------------------------===//
//
// Each `ssmc <command>` lives in its own <Name>Command.cpp. A command gets the
// arguments after its name (argv[0] is "ssmc <command>") and returns the
// process exit status: 0 on success, 1 on any error (after printing a message
// naming the file, tensor or flag), never aborting.
//
//===----------------------------------------------------------------------===//
#ifndef SSMC_COMPILER_SSMC_COMMANDS_H
#define SSMC_COMPILER_SSMC_COMMANDS_H

#include "frontends/hf/HFImporter.h"

#include "llvm/Support/Error.h"

namespace ssmc::driver {

/// `--dtype T` / `--dtype=T` at argv[i] (import and compile share it): sets
/// `options.modelDType` and advances `i` past a separate value. Returns
/// false when argv[i] is another flag; an error for a missing or bad value.
llvm::Expected<bool> consumeDTypeFlag(int argc, char **argv, int &i,
                                      ssmc::hf::ImportOptions &options);

int runImport(int argc, char **argv);    ///< ssmc import <dir> [-o out.mlir]
int runInspect(int argc, char **argv);   ///< ssmc inspect <dir|file>: tensors, dtypes, shapes
int runMakeModel(int argc, char **argv); ///< ssmc make-model --preset P | --family F ... -o dir
int runCompile(int argc, char **argv);   ///< ssmc compile <dir> --target T -o model.ssmx
int runRun(int argc, char **argv);       ///< ssmc run model.ssmx --prompt-ids ...
int runBench(int argc, char **argv);     ///< ssmc bench model.ssmx --batch ... --prompt-len ...

} // namespace ssmc::driver

#endif // SSMC_COMPILER_SSMC_COMMANDS_H
