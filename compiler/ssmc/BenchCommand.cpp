//===- BenchCommand.cpp - ssmc bench --------------------------------------===//
//
// `ssmc bench model.ssmx [--batch 1,4,16] [--prompt-len 128,2048] [--gen 64]
//  [--threads K] [--seed S]`: prefill and decode throughput per batch size and
// prompt length through the runtime's C API, peak memory, and — measured in
// the same run — the machine's streaming read bandwidth, so the batch-1
// decode can be stated as a fraction of the bandwidth roofline (decode reads
// every weight once per step).
//
//===----------------------------------------------------------------------===//

#include "compiler/ssmc/Commands.h"

#include "ssmc/ssmc.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

namespace {
const char *kUsage =
    "USAGE: ssmc bench <model.ssmx> [--batch 1,4,16] [--prompt-len 128,2048] [--gen 64]\n"
    "                  [--threads K] [--seed S]\n"
    "  Prints prefill and decode tokens/s per batch size and prompt length, peak\n"
    "  memory, the streaming read bandwidth of this machine measured in the same\n"
    "  run, and the batch-1 decode's weight bandwidth as a fraction of it.\n";

int fail(const llvm::Twine &message) {
  llvm::errs() << "ssmc bench: error: " << message << "\n";
  return 1;
}

bool parseList(llvm::StringRef text, std::vector<int64_t> &out) {
  llvm::SmallVector<llvm::StringRef> items;
  text.split(items, ',');
  out.clear();
  for (llvm::StringRef item : items) {
    int64_t v;
    if (item.trim().getAsInteger(10, v) || v <= 0)
      return false;
    out.push_back(v);
  }
  return !out.empty();
}

double seconds(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

/// Best-of-3 single-thread read bandwidth over 1 GiB, bytes per second.
double streamingReadBandwidth() {
  size_t n = (size_t(1) << 30) / sizeof(float);
  std::vector<float> buffer(n, 1.0f);
  double best = 0;
  volatile float sink = 0;
  for (int r = 0; r < 3; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    float acc[16] = {0};
    for (size_t i = 0; i + 16 <= n; i += 16)
      for (int j = 0; j < 16; ++j)
        acc[j] += buffer[i + j];
    auto t1 = std::chrono::steady_clock::now();
    for (float a : acc)
      sink = sink + a;
    best = std::max(best, n * sizeof(float) / seconds(t0, t1));
  }
  (void)sink;
  return best;
}

/// Total bytes of the weight section, from the manifest's weight table.
uint64_t weightBytes(const char *manifestJson) {
  auto parsed = llvm::json::parse(manifestJson);
  if (!parsed) {
    llvm::consumeError(parsed.takeError());
    return 0;
  }
  uint64_t total = 0;
  if (auto *obj = parsed->getAsObject())
    if (auto *weights = obj->getArray("weights"))
      for (const llvm::json::Value &w : *weights)
        if (auto *wo = w.getAsObject())
          if (std::optional<int64_t> b = wo->getInteger("bytes"))
            total += *b;
  return total;
}
} // namespace

int ssmc::driver::runBench(int argc, char **argv) {
  std::string path;
  std::vector<int64_t> batches{1, 4, 16}, promptLens{128, 2048};
  int64_t gen = 64, threads = 0, seed = 0;
  for (int i = 1; i < argc; ++i) {
    llvm::StringRef arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      llvm::outs() << kUsage;
      return 0;
    }
    if (arg == "--batch" || arg == "--prompt-len" || arg == "--gen" || arg == "--threads" ||
        arg == "--seed") {
      if (i + 1 >= argc)
        return fail(arg + " needs a value");
      llvm::StringRef v = argv[++i];
      if (arg == "--batch" || arg == "--prompt-len") {
        if (!parseList(v, arg == "--batch" ? batches : promptLens))
          return fail(arg + " expects positive integers separated by commas, got '" + v + "'");
      } else {
        int64_t n;
        if (v.getAsInteger(10, n) || n < 0)
          return fail(arg + " expects a non-negative integer, got '" + v + "'");
        (arg == "--gen" ? gen : arg == "--threads" ? threads : seed) = n;
      }
    } else if (arg.starts_with("-")) {
      return fail("unknown option '" + arg + "' (see ssmc bench --help)");
    } else if (path.empty()) {
      path = arg.str();
    } else {
      return fail("more than one artifact given");
    }
  }
  if (path.empty())
    return fail("no artifact given\n" + llvm::Twine(kUsage));

  char err[1024] = {0};
  ssmc_model *model = ssmc_model_load(path.c_str(), err, sizeof err);
  if (!model)
    return fail(err);
  ssmc_info info;
  ssmc_model_info(model, &info);
  uint64_t weights = weightBytes(info.manifest_json);
  llvm::outs() << "model: " << info.family << " " << info.dtype << " for " << info.target
               << ", weights " << llvm::format("%.1f", weights / 1e6) << " MB\n";
  llvm::outs() << llvm::format("%6s %8s %16s %16s\n", "batch", "prompt", "prefill tok/s",
                               "decode tok/s");

  uint64_t rng = static_cast<uint64_t>(seed) * 0x9E3779B97F4A7C15ull + 1;
  auto nextToken = [&]() {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return static_cast<int32_t>(rng % static_cast<uint64_t>(info.vocab_size));
  };
  double batch1Decode = 0;
  for (int64_t batch : batches)
    for (int64_t promptLen : promptLens) {
      ssmc_session *session =
          ssmc_session_create(model, static_cast<int32_t>(batch), promptLen + gen + 1,
                              static_cast<int32_t>(threads), err, sizeof err);
      if (!session) {
        ssmc_model_free(model);
        return fail(err);
      }
      std::vector<std::vector<int32_t>> prompts(batch, std::vector<int32_t>(promptLen));
      for (auto &p : prompts)
        for (int32_t &t : p)
          t = nextToken();
      std::vector<int32_t> slots(batch), lengths(batch, static_cast<int32_t>(promptLen)),
          next(batch);
      std::vector<const int32_t *> ptrs(batch);
      for (int64_t i = 0; i < batch; ++i) {
        slots[i] = static_cast<int32_t>(i);
        ptrs[i] = prompts[i].data();
      }
      std::vector<float> logits(static_cast<size_t>(batch) * info.vocab_size);
      auto t0 = std::chrono::steady_clock::now();
      ssmc_status s = ssmc_prefill(session, static_cast<int32_t>(batch), slots.data(),
                                   ptrs.data(), lengths.data(), logits.data());
      auto t1 = std::chrono::steady_clock::now();
      for (int64_t step = 0; s == SSMC_OK && step < gen; ++step) {
        for (int64_t i = 0; i < batch; ++i)
          next[i] = ssmc_sample(logits.data() + i * info.vocab_size, info.vocab_size, 0, 1, &rng);
        s = ssmc_decode(session, static_cast<int32_t>(batch), slots.data(), next.data(),
                        logits.data());
      }
      auto t2 = std::chrono::steady_clock::now();
      if (s != SSMC_OK) {
        std::string message = ssmc_last_error(session);
        ssmc_session_free(session);
        ssmc_model_free(model);
        return fail("batch " + llvm::Twine(batch) + ", prompt " + llvm::Twine(promptLen) + ": " +
                    message);
      }
      double prefillRate = batch * promptLen / seconds(t0, t1);
      double decodeRate = gen > 0 ? batch * gen / seconds(t1, t2) : 0;
      if (batch == 1 && batch1Decode == 0)
        batch1Decode = decodeRate;
      llvm::outs() << llvm::format("%6lld %8lld %16.1f %16.1f\n", (long long)batch,
                                   (long long)promptLen, prefillRate, decodeRate);
      ssmc_session_free(session);
    }
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  llvm::outs() << llvm::format("peak memory (RSS): %.1f MB\n", usage.ru_maxrss / 1024.0);
  double stream = streamingReadBandwidth();
  llvm::outs() << llvm::format("streaming read bandwidth (1 thread, this run): %.2f GB/s\n",
                               stream / 1e9);
  if (batch1Decode > 0 && weights > 0)
    llvm::outs() << llvm::format(
        "batch-1 decode weight bandwidth: %.2f GB/s = %.1f%% of streaming bandwidth\n",
        batch1Decode * weights / 1e9, 100.0 * batch1Decode * weights / stream);
  ssmc_model_free(model);
  return 0;
}
