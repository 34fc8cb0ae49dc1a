//===- InspectCommand.cpp - ssmc inspect ----------------------------------===//
//
// `ssmc inspect <checkpoint-dir | weight-file | model.ssmx>`: one line per tensor
//   name dtype [d0, d1, ...] file offset
// followed by a total. Opening a checkpoint parses headers only, so this is
// cheap even for multi-gigabyte files. For a compiled artifact: the manifest's
// model line, its states and its weight table (as the code reads them).
//
//===----------------------------------------------------------------------===//

#include "compiler/ssmc/Commands.h"
#include "frontends/checkpoint/Checkpoint.h"
#include "runtime/Artifact.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdio>
#include <cstring>

using namespace ssmc::ckpt;

static void printInspectUsage(llvm::raw_ostream &os, const char *prog) {
  os << "USAGE: " << prog << " <checkpoint-dir | weight-file | model.ssmx>\n\n"
     << "Lists the tensors of a checkpoint directory (model.safetensors[.index.json] or\n"
        "pytorch_model.bin[.index.json]) or of one weight file (.safetensors, PyTorch zip\n"
        ".bin, or a *.index.json of shards), one line per tensor:\n"
        "  name dtype [d0, d1, ...] file offset\n"
        "followed by the total number of tensors, elements and bytes.\n"
        "For a compiled artifact (.ssmx): its model, dtype and target, its\n"
        "hyper_parameters, then one line per state and per weight of the manifest:\n"
        "  state name dtype elements-per-sequence [+ elements-per-token]\n"
        "  weight name dtype [d0, d1, ...] offset bytes\n"
        "Artifacts compiled with --synthetic-weights say so (rule, seed, section\n"
        "size) and add each weight's distribution and generated type.\n\n"
        "OPTIONS:\n"
        "  -h, --help   print this help\n";
}

/// Whether `path` starts like an .ssmx ("SSMX"; the reader checks the rest
/// of the header and reports what is wrong with it).
static bool isArtifact(llvm::StringRef path) {
  char magic[4] = {0};
  FILE *f = fopen(path.str().c_str(), "rb");
  if (!f)
    return false;
  size_t n = fread(magic, 1, sizeof magic, f);
  fclose(f);
  return n == sizeof magic && memcmp(magic, ssmc::rt::ArtifactHeader::kMagic, sizeof magic) == 0;
}

static int inspectArtifact(llvm::StringRef path, const char *prog) {
  ssmc::rt::ArtifactReader reader;
  ssmc::rt::ArtifactReader::Options options;
  options.checkTarget = false; // listing needs no runnable code
  std::string error;
  if (!reader.open(path.str(), options, error)) {
    llvm::errs() << prog << ": error: " << error << "\n";
    return 1;
  }
  const ssmc::rt::Manifest &m = reader.manifest();
  llvm::outs() << "artifact: " << m.family << " " << m.dtype << " for " << m.target
               << ", vocab " << m.vocabSize << ", ssmc " << m.ssmcVersion << "\n";
  llvm::outs() << "hyper_parameters: " << m.hyperParameters.serialize() << "\n";
  if (m.synthetic.enabled)
    llvm::outs() << "weights: synthesized at load, rule " << m.synthetic.rule << ", seed "
                 << m.synthetic.seed << ", " << m.synthetic.sectionBytes
                 << " bytes (none stored in the file)\n";
  for (const ssmc::rt::StateSpec &st : m.states) {
    llvm::outs() << "state " << st.name << " " << st.dtype << " " << st.perSequenceElements;
    if (st.growsWithContext)
      llvm::outs() << " + " << st.perTokenElements << " per token";
    llvm::outs() << "\n";
  }
  uint64_t bytes = 0;
  for (const ssmc::rt::WeightSpec &w : m.weights) {
    llvm::outs() << "weight " << w.name << " " << w.dtype << " [";
    for (size_t i = 0; i < w.shape.size(); ++i)
      llvm::outs() << (i ? ", " : "") << w.shape[i];
    llvm::outs() << "] " << w.offset << " " << w.bytes;
    if (m.synthetic.enabled) {
      char range[80];
      std::snprintf(range, sizeof range, "%.9g, %.9g", w.init.lo, w.init.hi);
      llvm::outs() << " " << w.init.distribution << "(" << range << ") as "
                   << w.init.generatedDtype;
    }
    llvm::outs() << "\n";
    bytes += w.bytes;
  }
  llvm::outs() << "total: " << m.states.size() << " states, " << m.weights.size() << " weights, "
               << bytes << " weight bytes, " << reader.codeBytes() << " bytes of code\n";
  return 0;
}

int ssmc::driver::runInspect(int argc, char **argv) {
  const char *prog = argc > 0 ? argv[0] : "ssmc inspect";
  llvm::StringRef input;
  for (int i = 1; i < argc; ++i) {
    llvm::StringRef arg = argv[i];
    if (arg == "-h" || arg == "--help" || arg == "-help") {
      printInspectUsage(llvm::outs(), prog);
      return 0;
    }
    if (arg.starts_with("-") && arg != "-") {
      llvm::errs() << prog << ": error: unknown option '" << arg << "' (see --help)\n";
      return 1;
    }
    if (!input.empty()) {
      llvm::errs() << prog << ": error: expected one checkpoint, got '" << input << "' and '" << arg
                   << "'\n";
      return 1;
    }
    input = arg;
  }
  if (input.empty()) {
    llvm::errs() << prog << ": error: missing <checkpoint-dir | weight-file> (see --help)\n";
    return 1;
  }

  if (!llvm::sys::fs::is_directory(input) && isArtifact(input))
    return inspectArtifact(input, prog);

  llvm::Expected<std::unique_ptr<Checkpoint>> ck = llvm::sys::fs::is_directory(input)
                                                       ? Checkpoint::openDirectory(input)
                                                       : Checkpoint::openFile(input);
  if (!ck) {
    llvm::errs() << prog << ": error: " << llvm::toString(ck.takeError()) << "\n";
    return 1;
  }

  uint64_t elements = 0, bytes = 0;
  for (const TensorInfo &t : (*ck)->tensors()) {
    llvm::outs() << t.name << " " << dtypeName(t.dtype) << " [";
    for (size_t i = 0; i < t.shape.size(); ++i)
      llvm::outs() << (i ? ", " : "") << t.shape[i];
    llvm::outs() << "] " << t.file << " " << t.offset << "\n";
    elements += static_cast<uint64_t>(t.numElements());
    bytes += t.nbytes;
  }
  size_t numFiles = (*ck)->files().size();
  size_t numTensors = (*ck)->tensors().size();
  llvm::outs() << "total: " << numTensors << (numTensors == 1 ? " tensor, " : " tensors, ")
               << elements << " elements, " << bytes << " bytes in " << numFiles
               << (numFiles == 1 ? " file" : " files") << " ("
               << ((*ck)->format() == Format::Safetensors ? "safetensors" : "torch zip") << ")\n";
  return 0;
}
