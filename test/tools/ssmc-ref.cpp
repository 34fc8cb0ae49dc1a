//===- ssmc-ref.cpp - Greedy generation with the reference implementation -===//
//
//   ssmc-ref <checkpoint-dir> --prompt-ids 1,2,3[;4,5 ...] --max-new-tokens N
//            [--mode recurrent|chunked] [--chunk Q] [--logits-out out.json]
//
// Runs the double-precision reference (test/reference) on a checkpoint
// directory: one prefill of each prompt, then N greedy tokens per sequence
// (argmax over the unpadded vocabulary, lowest id on ties, no stop at EOS).
//
// out.json: {"tokens": [[generated ids] per sequence],
//            "logits": [[row 0, row 1, ...] per sequence]}
// Row k is the distribution generated token k+1 was picked from: row 0 is the
// last prompt position, row k (k >= 1) follows generated token k. There are
// max(N, 1) rows: with N = 0 the prefill's last row is still written. Rows have
// the model's full (padded) vocabulary width. Numbers are printed with %.17g.
//
// Errors (unreadable config, missing tensor, wrong shape, bad ids) print a
// message and exit with status 1.
//
//===----------------------------------------------------------------------===//

#include "test/reference/Reference.h"
#include "test/reference/ReferenceLoad.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>

using namespace ssmc::ref;

namespace {

llvm::cl::OptionCategory category("ssmc-ref options");
llvm::cl::opt<std::string> checkpointDir(llvm::cl::Positional, llvm::cl::Required,
                                         llvm::cl::desc("<checkpoint-dir>"), llvm::cl::cat(category));
llvm::cl::opt<std::string> promptIds("prompt-ids", llvm::cl::Required,
                                     llvm::cl::desc("token ids: '1,2,3' (';' separates sequences)"),
                                     llvm::cl::cat(category));
llvm::cl::opt<int> maxNewTokens("max-new-tokens", llvm::cl::init(0),
                                llvm::cl::desc("greedy tokens to generate per sequence"),
                                llvm::cl::cat(category));
llvm::cl::opt<std::string> mode("mode", llvm::cl::init("recurrent"),
                                llvm::cl::desc("SSM scan form: recurrent (default) or chunked"),
                                llvm::cl::cat(category));
llvm::cl::opt<int> chunk("chunk", llvm::cl::init(0),
                         llvm::cl::desc("chunk length Q for --mode chunked (default: the config's)"),
                         llvm::cl::cat(category));
llvm::cl::opt<std::string> logitsOut("logits-out", llvm::cl::init(""),
                                     llvm::cl::desc("write tokens and logits as JSON to this file"),
                                     llvm::cl::cat(category));

int fail(const llvm::Twine &msg) {
  llvm::errs() << "ssmc-ref: error: " << msg << "\n";
  return 1;
}

/// "1,2,3;4,5" -> {{1,2,3},{4,5}}.
llvm::Expected<std::vector<std::vector<int>>> parsePrompts(llvm::StringRef text) {
  std::vector<std::vector<int>> prompts;
  llvm::SmallVector<llvm::StringRef> seqs;
  text.split(seqs, ';');
  for (llvm::StringRef seq : seqs) {
    std::vector<int> ids;
    llvm::SmallVector<llvm::StringRef> items;
    seq.split(items, ',');
    for (llvm::StringRef item : items) {
      int id = 0;
      if (item.trim().getAsInteger(10, id))
        return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                       "--prompt-ids: '" + item.str() + "' is not an integer");
      ids.push_back(id);
    }
    prompts.push_back(std::move(ids));
  }
  return prompts;
}

void writeNumber(llvm::raw_ostream &os, double v) {
  if (std::isnan(v))
    os << "NaN";
  else if (std::isinf(v))
    os << (v > 0 ? "Infinity" : "-Infinity");
  else
    os << llvm::format("%.17g", v);
}

} // namespace

int main(int argc, char **argv) {
  llvm::cl::HideUnrelatedOptions(category);
  llvm::cl::ParseCommandLineOptions(argc, argv, "ssmc reference: greedy generation in double precision\n");

  ForwardOptions opts;
  if (mode == "recurrent")
    opts.mode = ScanMode::Recurrent;
  else if (mode == "chunked")
    opts.mode = ScanMode::Chunked;
  else
    return fail("--mode must be recurrent or chunked, got '" + mode + "'");
  if (chunk < 0)
    return fail("--chunk must be positive");
  opts.chunkSize = chunk;
  if (maxNewTokens < 0)
    return fail("--max-new-tokens must not be negative");

  auto prompts = parsePrompts(promptIds);
  if (!prompts)
    return fail(llvm::toString(prompts.takeError()));
  for (size_t b = 0; b < prompts->size(); ++b)
    if ((*prompts)[b].empty())
      return fail("--prompt-ids: sequence " + llvm::Twine(b) + " is empty");

  llvm::Expected<Model> model = loadModel(checkpointDir);
  if (!model)
    return fail(llvm::toString(model.takeError()));

  const size_t batch = prompts->size();
  State state = model->newState(static_cast<int64_t>(batch));
  auto prefill = model->forward(state, *prompts, opts);
  if (!prefill)
    return fail(llvm::toString(prefill.takeError()));

  std::vector<std::vector<int>> tokens(batch);
  std::vector<Matrix> rows(batch);
  std::vector<std::vector<double>> current(batch);
  for (size_t b = 0; b < batch; ++b)
    current[b] = (*prefill)[b].back();
  for (int step = 0; step < std::max(maxNewTokens.getValue(), 1); ++step) {
    std::vector<std::vector<int>> next(batch);
    for (size_t b = 0; b < batch; ++b) {
      rows[b].push_back(current[b]);
      if (step < maxNewTokens) {
        tokens[b].push_back(static_cast<int>(model->greedyToken(current[b])));
        next[b] = {tokens[b].back()};
      }
    }
    if (step + 1 >= maxNewTokens)
      break;
    auto out = model->forward(state, next, opts);
    if (!out)
      return fail(llvm::toString(out.takeError()));
    for (size_t b = 0; b < batch; ++b)
      current[b] = (*out)[b].back();
  }

  for (size_t b = 0; b < batch; ++b) {
    llvm::outs() << "sequence " << b << ":";
    for (int t : tokens[b])
      llvm::outs() << " " << t;
    llvm::outs() << "\n";
  }

  if (!logitsOut.empty()) {
    std::error_code ec;
    llvm::raw_fd_ostream os(logitsOut, ec, llvm::sys::fs::OF_Text);
    if (ec)
      return fail("cannot write " + logitsOut + ": " + ec.message());
    os << "{\"tokens\": [";
    for (size_t b = 0; b < batch; ++b) {
      os << (b ? ", [" : "[");
      for (size_t i = 0; i < tokens[b].size(); ++i)
        os << (i ? ", " : "") << tokens[b][i];
      os << "]";
    }
    os << "],\n \"logits\": [";
    for (size_t b = 0; b < batch; ++b) {
      os << (b ? ",\n  [" : "\n  [");
      for (size_t r = 0; r < rows[b].size(); ++r) {
        os << (r ? ",\n   [" : "\n   [");
        for (size_t v = 0; v < rows[b][r].size(); ++v) {
          if (v)
            os << ", ";
          writeNumber(os, rows[b][r][v]);
        }
        os << "]";
      }
      os << "]";
    }
    os << "]}\n";
    os.close();
    if (os.has_error())
      return fail("cannot write " + logitsOut);
  }
  return 0;
}
