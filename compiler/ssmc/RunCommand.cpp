//===- RunCommand.cpp - ssmc run ------------------------------------------===//
//
// `ssmc run model.ssmx --prompt-ids 1,2,3[;4,5] --max-new-tokens N
//  [--temperature T --top-p P --seed S] [--threads K] [--logits-out out.json]`
// generates with the runtime's C API only (what a deployed program links):
// prefill of every prompt in one ragged batch, then decode in lockstep.
//
//===----------------------------------------------------------------------===//

#include "compiler/ssmc/Commands.h"

#include "ssmc/ssmc.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>
#include <vector>

namespace {
const char *kUsage =
    "USAGE: ssmc run <model.ssmx> --prompt-ids 1,2,3[;4,5,...] [--max-new-tokens N]\n"
    "         [--temperature T] [--top-p P] [--seed S] [--threads K] [--logits-out out.json]\n"
    "         [--prefill-chunk N]\n"
    "  --prefill-chunk N feeds each prompt in pieces of N tokens (1 = token by token)\n"
    "  Greedy when --temperature is 0 (default). --logits-out writes\n"
    "  {\"tokens\": [...], \"logits\": [[logits after the prompt], [after token 1], ...]}\n"
    "  (one list per prompt, nested, when several prompts are given).\n";

int fail(const llvm::Twine &message) {
  llvm::errs() << "ssmc run: error: " << message << "\n";
  return 1;
}

bool parseNumber(llvm::StringRef s, double &out) { return !s.getAsDouble(out); }
} // namespace

int ssmc::driver::runRun(int argc, char **argv) {
  std::string path, promptText, logitsOut;
  int64_t maxNew = 16, seed = 0, threads = 0, prefillChunk = 0;
  double temperature = 0.0, topP = 1.0;
  for (int i = 1; i < argc; ++i) {
    llvm::StringRef arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      llvm::outs() << kUsage;
      return 0;
    }
    auto value = [&]() -> const char * { return i + 1 < argc ? argv[++i] : nullptr; };
    if (arg == "--prompt-ids" || arg == "--max-new-tokens" || arg == "--temperature" ||
        arg == "--top-p" || arg == "--seed" || arg == "--logits-out" || arg == "--threads" ||
        arg == "--prefill-chunk") {
      const char *v = value();
      if (!v)
        return fail(arg + " needs a value");
      llvm::StringRef sv(v);
      double d = 0;
      if (arg == "--prompt-ids")
        promptText = v;
      else if (arg == "--logits-out")
        logitsOut = v;
      else if (arg == "--temperature" || arg == "--top-p") {
        if (!parseNumber(sv, d))
          return fail(arg + " expects a number, got '" + sv + "'");
        (arg == "--temperature" ? temperature : topP) = d;
      } else {
        int64_t n;
        if (sv.getAsInteger(10, n) || n < 0)
          return fail(arg + " expects a non-negative integer, got '" + sv + "'");
        (arg == "--max-new-tokens" ? maxNew
         : arg == "--seed"         ? seed
         : arg == "--threads"      ? threads
                                   : prefillChunk) = n;
      }
    } else if (arg.starts_with("-")) {
      return fail("unknown option '" + arg + "' (see ssmc run --help)");
    } else if (path.empty()) {
      path = arg.str();
    } else {
      return fail("more than one artifact given");
    }
  }
  if (path.empty())
    return fail("no artifact given\n" + llvm::Twine(kUsage));
  if (promptText.empty())
    return fail("--prompt-ids is required");
  if (topP <= 0 || topP > 1)
    return fail("--top-p must be in (0, 1]");

  std::vector<std::vector<int32_t>> prompts;
  llvm::SmallVector<llvm::StringRef> seqs;
  llvm::StringRef(promptText).split(seqs, ';');
  for (llvm::StringRef seq : seqs) {
    std::vector<int32_t> ids;
    llvm::SmallVector<llvm::StringRef> items;
    seq.split(items, ',');
    for (llvm::StringRef item : items) {
      int32_t id;
      if (item.trim().getAsInteger(10, id))
        return fail("--prompt-ids: '" + item + "' is not an integer token id");
      ids.push_back(id);
    }
    if (ids.empty())
      return fail("--prompt-ids: empty prompt");
    prompts.push_back(std::move(ids));
  }

  char err[1024] = {0};
  ssmc_model *model = ssmc_model_load(path.c_str(), err, sizeof err);
  if (!model)
    return fail(err);
  ssmc_info info;
  ssmc_model_info(model, &info);
  int32_t n = static_cast<int32_t>(prompts.size());
  size_t longest = 0;
  for (auto &p : prompts)
    longest = std::max(longest, p.size());
  ssmc_session *session = ssmc_session_create(model, n, static_cast<int64_t>(longest + maxNew + 1),
                                              static_cast<int32_t>(threads), err, sizeof err);
  if (!session) {
    ssmc_model_free(model);
    return fail(err);
  }
  auto cleanupFail = [&](const llvm::Twine &message) {
    int rc = fail(message);
    ssmc_session_free(session);
    ssmc_model_free(model);
    return rc;
  };

  int32_t vocab = info.vocab_size;
  std::vector<int32_t> slots(n), lengths(n);
  std::vector<const int32_t *> tokenPtrs(n);
  for (int32_t i = 0; i < n; ++i) {
    slots[i] = i;
    lengths[i] = static_cast<int32_t>(prompts[i].size());
    tokenPtrs[i] = prompts[i].data();
  }
  std::vector<float> logits(static_cast<size_t>(n) * vocab);
  std::vector<std::vector<std::vector<float>>> trace(n);
  std::vector<std::vector<int32_t>> generated(n);
  uint64_t rng = static_cast<uint64_t>(seed);

  auto t0 = std::chrono::steady_clock::now();
  // Prefill, whole prompts or in pieces; each sequence's logits come from
  // the call that consumed its last prompt token.
  std::vector<size_t> done(n, 0);
  std::vector<float> pieceLogits(logits.size());
  while (true) {
    std::vector<int32_t> pieceSlots, pieceLengths;
    std::vector<const int32_t *> pieceTokens;
    for (int32_t i = 0; i < n; ++i) {
      size_t left = prompts[i].size() - done[i];
      if (!left)
        continue;
      size_t take = prefillChunk > 0 ? std::min<size_t>(left, prefillChunk) : left;
      pieceSlots.push_back(i);
      pieceLengths.push_back(static_cast<int32_t>(take));
      pieceTokens.push_back(prompts[i].data() + done[i]);
    }
    if (pieceSlots.empty())
      break;
    int32_t m = static_cast<int32_t>(pieceSlots.size());
    if (ssmc_status s = ssmc_prefill(session, m, pieceSlots.data(), pieceTokens.data(),
                                     pieceLengths.data(), pieceLogits.data()))
      return cleanupFail(llvm::Twine("prefill failed: ") + ssmc_last_error(session) + " (" +
                         ssmc_status_string(s) + ")");
    for (int32_t k = 0; k < m; ++k) {
      int32_t i = pieceSlots[k];
      done[i] += pieceLengths[k];
      if (done[i] == prompts[i].size())
        std::copy_n(pieceLogits.data() + static_cast<size_t>(k) * vocab, vocab,
                    logits.data() + static_cast<size_t>(i) * vocab);
    }
  }
  auto t1 = std::chrono::steady_clock::now();
  std::vector<int32_t> next(n);
  double decodeSeconds = 0;
  for (int64_t step = 0; step < maxNew; ++step) {
    for (int32_t i = 0; i < n; ++i) {
      const float *row = logits.data() + static_cast<size_t>(i) * vocab;
      if (!logitsOut.empty())
        trace[i].emplace_back(row, row + vocab);
      next[i] = ssmc_sample(row, vocab, static_cast<float>(temperature),
                            static_cast<float>(topP), &rng);
      generated[i].push_back(next[i]);
    }
    if (step + 1 == maxNew)
      break;
    auto d0 = std::chrono::steady_clock::now();
    if (ssmc_status s = ssmc_decode(session, n, slots.data(), next.data(), logits.data()))
      return cleanupFail(llvm::Twine("decode failed: ") + ssmc_last_error(session) + " (" +
                         ssmc_status_string(s) + ")");
    decodeSeconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - d0).count();
  }
  if (maxNew == 0 && !logitsOut.empty())
    for (int32_t i = 0; i < n; ++i)
      trace[i].emplace_back(logits.data() + static_cast<size_t>(i) * vocab,
                            logits.data() + static_cast<size_t>(i + 1) * vocab);
  double prefillSeconds = std::chrono::duration<double>(t1 - t0).count();

  for (int32_t i = 0; i < n; ++i) {
    llvm::outs() << "tokens:";
    for (int32_t t : generated[i])
      llvm::outs() << " " << t;
    llvm::outs() << "\n";
  }
  size_t promptTokens = 0;
  for (auto &p : prompts)
    promptTokens += p.size();
  llvm::outs() << llvm::format("prefill: %zu tokens in %.3f ms (%.1f tok/s)\n", promptTokens,
                               prefillSeconds * 1e3, promptTokens / std::max(prefillSeconds, 1e-9));
  int64_t decoded = maxNew > 1 ? (maxNew - 1) * n : 0;
  if (decoded)
    llvm::outs() << llvm::format("decode: %lld tokens in %.3f ms (%.1f tok/s)\n",
                                 static_cast<long long>(decoded), decodeSeconds * 1e3,
                                 decoded / std::max(decodeSeconds, 1e-9));

  if (!logitsOut.empty()) {
    std::error_code ec;
    llvm::raw_fd_ostream os(logitsOut, ec, llvm::sys::fs::OF_Text);
    if (ec)
      return cleanupFail("cannot write '" + logitsOut + "': " + ec.message());
    auto writeSeq = [&](int32_t i) {
      os << "[";
      for (size_t k = 0; k < trace[i].size(); ++k) {
        os << (k ? ", [" : "[");
        for (int32_t v = 0; v < vocab; ++v)
        {
          // Masked rows (vocabulary padding) are -inf, which JSON cannot spell.
          float x = trace[i][k][v];
          os << (v ? ", " : "");
          if (std::isfinite(x))
            os << llvm::format("%.9g", x);
          else
            os << "null";
        }
        os << "]";
      }
      os << "]";
    };
    os << "{\"tokens\": ";
    if (n > 1)
      os << "[";
    for (int32_t i = 0; i < n; ++i) {
      os << (i ? ", [" : "[");
      for (size_t k = 0; k < generated[i].size(); ++k)
        os << (k ? ", " : "") << generated[i][k];
      os << "]";
    }
    if (n > 1)
      os << "]";
    os << ", \"logits\": ";
    if (n > 1)
      os << "[";
    for (int32_t i = 0; i < n; ++i) {
      if (i)
        os << ", ";
      writeSeq(i);
    }
    if (n > 1)
      os << "]";
    os << "}\n";
  }
  ssmc_session_free(session);
  ssmc_model_free(model);
  return 0;
}
