//===- run_lite.cpp - generation on the runtime's C API alone -------------===//
//
// `<tool> model.ssmx --prompt-ids 1,2,3[;4,5] --max-new-tokens N
//  [--prefill-chunk N] [--temperature T --top-p P --seed S] [--threads K]
//  [--logits-out out.json]`
//
// The one implementation of `ssmc run` (compiler/ssmc/RunCommand.cpp calls
// it) and of `ssmc-run-lite` (main.cpp). It uses the runtime's C API and the
// C++ standard library only, never LLVM or MLIR, so ssmc-run-lite runs
// compiled artifacts on machines without them (test/E2E/gpu/run-on-device.sh
// --prepare / --prepared carries it to a GPU machine with the artifacts).
//
//===----------------------------------------------------------------------===//

#include "tools/run-lite/Generate.h"

#include "ssmc/ssmc.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {
const char *kUsageArgs =
    " <model.ssmx> --prompt-ids 1,2,3[;4,5,...] [--max-new-tokens N]\n"
    "         [--temperature T] [--top-p P] [--seed S] [--threads K] [--logits-out out.json]\n"
    "         [--prefill-chunk N]\n"
    "  --prefill-chunk N feeds each prompt in pieces of N tokens (1 = token by token)\n"
    "  Greedy when --temperature is 0 (default). --logits-out writes\n"
    "  {\"tokens\": [...], \"logits\": [[logits after the prompt], [after token 1], ...]}\n"
    "  (one list per prompt, nested, when several prompts are given).\n";

// The tool's name in messages ("ssmc run", "ssmc-run-lite").
const char *toolName = "ssmc-run-lite";

std::string usage() {
  std::string text = std::string("USAGE: ") + toolName + kUsageArgs;
  if (std::strcmp(toolName, "ssmc-run-lite") == 0)
    text += "USAGE: ssmc-run-lite bench <model.ssmx> [--batch ...] (see ssmc-run-lite bench "
            "--help):\n  the throughput loop of ssmc bench\n";
  return text;
}

int fail(const std::string &message) {
  std::fprintf(stderr, "%s: error: %s\n", toolName, message.c_str());
  return 1;
}

// Whole-string base-10 integer (optional '-', no spaces), in range.
bool parseInteger(const std::string &s, long long lo, long long hi, long long &out) {
  if (s.empty() || !(s[0] == '-' || std::isdigit(static_cast<unsigned char>(s[0]))))
    return false;
  errno = 0;
  char *end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (errno || *end || end == s.c_str() || v < lo || v > hi)
    return false;
  out = v;
  return true;
}

bool parseNumber(const std::string &s, double &out) {
  if (s.empty() || std::isspace(static_cast<unsigned char>(s[0])))
    return false;
  char *end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (*end || end == s.c_str())
    return false;
  out = v;
  return true;
}

std::vector<std::string> split(const std::string &s, char sep) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t at = s.find(sep, start);
    parts.push_back(s.substr(start, at == std::string::npos ? std::string::npos : at - start));
    if (at == std::string::npos)
      return parts;
    start = at + 1;
  }
}

std::string trim(const std::string &s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b])))
    ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1])))
    --e;
  return s.substr(b, e - b);
}
} // namespace

int ssmc::tools::runGenerate(const char *tool, int argc, char **argv) {
  toolName = tool;
  std::string path, promptText, logitsOut;
  long long maxNew = 16, seed = 0, threads = 0, prefillChunk = 0;
  double temperature = 0.0, topP = 1.0;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(usage().c_str(), stdout);
      return 0;
    }
    if (arg == "--prompt-ids" || arg == "--max-new-tokens" || arg == "--temperature" ||
        arg == "--top-p" || arg == "--seed" || arg == "--logits-out" || arg == "--threads" ||
        arg == "--prefill-chunk") {
      if (i + 1 >= argc)
        return fail(arg + " needs a value");
      std::string v = argv[++i];
      if (arg == "--prompt-ids") {
        promptText = v;
      } else if (arg == "--logits-out") {
        logitsOut = v;
      } else if (arg == "--temperature" || arg == "--top-p") {
        double d = 0;
        if (!parseNumber(v, d))
          return fail(arg + " expects a number, got '" + v + "'");
        (arg == "--temperature" ? temperature : topP) = d;
      } else {
        long long n = 0;
        if (!parseInteger(v, INT64_MIN, INT64_MAX, n) || n < 0)
          return fail(arg + " expects a non-negative integer, got '" + v + "'");
        (arg == "--max-new-tokens" ? maxNew
         : arg == "--seed"         ? seed
         : arg == "--threads"      ? threads
                                   : prefillChunk) = n;
      }
    } else if (!arg.empty() && arg[0] == '-') {
      return fail("unknown option '" + arg + "' (see " + toolName + " --help)");
    } else if (path.empty()) {
      path = arg;
    } else {
      return fail("more than one artifact given");
    }
  }
  if (path.empty())
    return fail("no artifact given\n" + usage());
  if (promptText.empty())
    return fail("--prompt-ids is required");
  if (!(topP > 0 && topP <= 1))
    return fail("--top-p must be in (0, 1]");
  if (threads > INT32_MAX)
    return fail("--threads is too large");

  std::vector<std::vector<int32_t>> prompts;
  for (const std::string &seq : split(promptText, ';')) {
    std::vector<int32_t> ids;
    for (const std::string &item : split(seq, ',')) {
      long long id = 0;
      if (!parseInteger(trim(item), INT32_MIN, INT32_MAX, id))
        return fail("--prompt-ids: '" + item + "' is not an integer token id");
      ids.push_back(static_cast<int32_t>(id));
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
  ssmc_session *session =
      ssmc_session_create(model, n, static_cast<int64_t>(longest + maxNew + 1),
                          static_cast<int32_t>(threads), err, sizeof err);
  if (!session) {
    ssmc_model_free(model);
    return fail(err);
  }
  auto cleanupFail = [&](const std::string &message) {
    int rc = fail(message);
    ssmc_session_free(session);
    ssmc_model_free(model);
    return rc;
  };

  int32_t vocab = info.vocab_size;
  std::vector<int32_t> slots(n);
  for (int32_t i = 0; i < n; ++i)
    slots[i] = i;
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
      return cleanupFail(std::string("prefill failed: ") + ssmc_last_error(session) + " (" +
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
  for (long long step = 0; step < maxNew; ++step) {
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
      return cleanupFail(std::string("decode failed: ") + ssmc_last_error(session) + " (" +
                         ssmc_status_string(s) + ")");
    decodeSeconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - d0).count();
  }
  if (maxNew == 0 && !logitsOut.empty())
    for (int32_t i = 0; i < n; ++i)
      trace[i].emplace_back(logits.data() + static_cast<size_t>(i) * vocab,
                            logits.data() + static_cast<size_t>(i + 1) * vocab);
  double prefillSeconds = std::chrono::duration<double>(t1 - t0).count();

  for (int32_t i = 0; i < n; ++i) {
    std::fputs("tokens:", stdout);
    for (int32_t t : generated[i])
      std::printf(" %d", t);
    std::fputs("\n", stdout);
  }
  size_t promptTokens = 0;
  for (auto &p : prompts)
    promptTokens += p.size();
  std::printf("prefill: %zu tokens in %.3f ms (%.1f tok/s)\n", promptTokens,
              prefillSeconds * 1e3, promptTokens / std::max(prefillSeconds, 1e-9));
  long long decoded = maxNew > 1 ? (maxNew - 1) * n : 0;
  if (decoded)
    std::printf("decode: %lld tokens in %.3f ms (%.1f tok/s)\n", decoded, decodeSeconds * 1e3,
                decoded / std::max(decodeSeconds, 1e-9));
  std::fflush(stdout);

  if (!logitsOut.empty()) {
    FILE *os = std::fopen(logitsOut.c_str(), "w");
    if (!os)
      return cleanupFail("cannot write '" + logitsOut + "': " + std::strerror(errno));
    auto writeSeq = [&](int32_t i) {
      std::fputs("[", os);
      for (size_t k = 0; k < trace[i].size(); ++k) {
        std::fputs(k ? ", [" : "[", os);
        for (int32_t v = 0; v < vocab; ++v) {
          // Masked rows (vocabulary padding) are -inf, which JSON cannot spell.
          float x = trace[i][k][v];
          if (v)
            std::fputs(", ", os);
          if (std::isfinite(x))
            std::fprintf(os, "%.9g", x);
          else
            std::fputs("null", os);
        }
        std::fputs("]", os);
      }
      std::fputs("]", os);
    };
    std::fputs("{\"tokens\": ", os);
    if (n > 1)
      std::fputs("[", os);
    for (int32_t i = 0; i < n; ++i) {
      std::fputs(i ? ", [" : "[", os);
      for (size_t k = 0; k < generated[i].size(); ++k)
        std::fprintf(os, k ? ", %d" : "%d", generated[i][k]);
      std::fputs("]", os);
    }
    if (n > 1)
      std::fputs("]", os);
    std::fputs(", \"logits\": ", os);
    if (n > 1)
      std::fputs("[", os);
    for (int32_t i = 0; i < n; ++i) {
      if (i)
        std::fputs(", ", os);
      writeSeq(i);
    }
    if (n > 1)
      std::fputs("]", os);
    std::fputs("}\n", os);
    if (std::fclose(os) != 0)
      return cleanupFail("cannot write '" + logitsOut + "': " + std::strerror(errno));
  }
  ssmc_session_free(session);
  ssmc_model_free(model);
  return 0;
}
