//===- ImportCommand.cpp - ssmc import ------------------------------------===//
//
// `ssmc import <checkpoint-dir> [-o out.mlir] [--debuginfo] [--dtype T]`:
// prints the ssm-dialect module of a Hugging Face checkpoint directory.
//
//===----------------------------------------------------------------------===//

#include "compiler/ssmc/Commands.h"
#include "frontends/hf/HFImporter.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

#include <cstring>
#include <string>

namespace {
const char *kUsage =
    "USAGE: ssmc import <checkpoint-dir> [-o <file.mlir>] [--debuginfo] [--dtype f32|bf16|f16]\n"
    "  Prints the ssm-dialect IR of a Llamba, Mamba-2, Mamba-in-the-Llama or\n"
    "  Llama checkpoint directory (config.json + safetensors or pytorch_model.bin).\n"
    "  Weights are referenced by name, never inlined.\n"
    "  --debuginfo  print op locations (the upstream module path of each op)\n"
    "  --dtype T    the IR `ssmc compile --dtype T` compiles: weights and\n"
    "               activations typed T, state f32\n";

int fail(const llvm::Twine &message) {
  llvm::errs() << "ssmc import: error: " << message << "\n";
  return 1;
}
} // namespace

llvm::Expected<bool> ssmc::driver::consumeDTypeFlag(int argc, char **argv, int &i,
                                                   ssmc::hf::ImportOptions &options) {
  llvm::StringRef arg = argv[i], text;
  if (arg == "--dtype") {
    if (i + 1 >= argc)
      return llvm::createStringError("--dtype needs a value (f32, bf16 or f16)");
    text = argv[++i];
  } else if (arg.starts_with("--dtype=")) {
    text = arg.drop_front(strlen("--dtype="));
  } else {
    return false;
  }
  auto dtype = ssmc::hf::parseModelDType(text, "--dtype");
  if (!dtype)
    return dtype.takeError();
  options.modelDType = *dtype;
  return true;
}

int ssmc::driver::runImport(int argc, char **argv) {
  std::string dir, output = "-";
  bool debugInfo = false;
  ssmc::hf::ImportOptions options;
  for (int i = 1; i < argc; ++i) {
    llvm::StringRef arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      llvm::outs() << kUsage;
      return 0;
    }
    if (arg == "-o") {
      if (i + 1 >= argc)
        return fail("-o needs a file name");
      output = argv[++i];
    } else if (llvm::Expected<bool> dtype = consumeDTypeFlag(argc, argv, i, options); !dtype) {
      return fail(llvm::toString(dtype.takeError()));
    } else if (*dtype) {
      continue;
    } else if (arg == "--debuginfo") {
      debugInfo = true;
    } else if (arg.starts_with("-")) {
      return fail("unknown option '" + arg + "' (see ssmc import --help)");
    } else if (dir.empty()) {
      dir = arg.str();
    } else {
      return fail("more than one checkpoint directory given ('" + dir + "' and '" + arg + "')");
    }
  }
  if (dir.empty())
    return fail("no checkpoint directory given\n" + llvm::Twine(kUsage));
  if (!llvm::sys::fs::is_directory(dir))
    return fail("'" + dir + "' is not a directory");

  mlir::MLIRContext context;
  auto module = ssmc::hf::importCheckpoint(context, dir, options);
  if (!module)
    return fail(llvm::toString(module.takeError()));

  std::error_code ec;
  llvm::ToolOutputFile out(output, ec, llvm::sys::fs::OF_Text);
  if (ec)
    return fail("cannot write '" + output + "': " + ec.message());
  mlir::OpPrintingFlags flags;
  if (debugInfo)
    flags.enableDebugInfo();
  (*module)->print(out.os(), flags);
  out.os() << "\n";
  out.keep();
  return 0;
}
