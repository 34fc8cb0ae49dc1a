//===- BenchCommand.cpp - ssmc bench --------------------------------------===//
//
// `ssmc bench model.ssmx [--batch 1,4,16] [--prompt-len 128,2048] [--gen 64]
//  [--threads K] [--seed S]`: prefill and decode throughput per batch size and
// prompt length through the runtime's C API, peak memory, and — measured in
// the same run — the machine's streaming read bandwidth, so the batch-1
// decode can be stated as a fraction of the bandwidth roofline (decode reads
// every weight once per step), and the rate at which OpenBLAS (cblas_sgemm,
// float32, same thread count) runs the matrix products of the same prefill,
// derived from the artifact's weight table: every 2-D weight but the
// embedding table (a gather) on batch x prompt rows, the LM head on batch
// rows (only the last positions produce logits).
//
//===----------------------------------------------------------------------===//

#include "compiler/ssmc/Commands.h"

#include "ssmc/ssmc.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#ifdef SSMC_HAVE_OPENBLAS
#include <cblas.h>
#endif

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <set>
#include <thread>
#include <tuple>
#include <vector>

namespace {
const char *kUsage =
    "USAGE: ssmc bench <model.ssmx> [--batch 1,4,16] [--prompt-len 128,2048] [--gen 64]\n"
    "                  [--threads K] [--seed S]\n"
    "  Prints prefill and decode tokens/s per batch size and prompt length, peak\n"
    "  memory, the streaming read bandwidth of this machine measured in the same\n"
    "  run, the batch-1 decode's weight bandwidth as a fraction of it, and per\n"
    "  batch size and prompt length the rate of the same prefill's matrix\n"
    "  products in OpenBLAS (cblas_sgemm, f32) next to ssmc's.\n"
    "  --threads K  threads of the ssmc session and of OpenBLAS (0: all cores)\n";

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
double streamingReadBandwidth(int threads) {
  // Each thread sums its own share of 2 GiB (far beyond any cache); the
  // figure is the best of 3 runs of all threads together.
  threads = std::max(1, threads);
  size_t perThread = ((size_t(2) << 30) / sizeof(float) / threads) / 16 * 16;
  std::vector<std::vector<float>> buffers(threads);
  {
    std::vector<std::thread> fill;
    for (int t = 0; t < threads; ++t)
      fill.emplace_back([&, t] { buffers[t].assign(perThread, 1.0f); });
    for (std::thread &th : fill)
      th.join();
  }
  double best = 0;
  std::vector<float> sinks(threads * 16, 0.0f);
  for (int r = 0; r < 3; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> readers;
    for (int t = 0; t < threads; ++t)
      readers.emplace_back([&, t] {
        const float *data = buffers[t].data();
        float acc[16] = {0};
        for (size_t i = 0; i + 16 <= perThread; i += 16)
          for (int j = 0; j < 16; ++j)
            acc[j] += data[i + j];
        for (int j = 0; j < 16; ++j)
          sinks[t * 16 + j] += acc[j];
      });
    for (std::thread &th : readers)
      th.join();
    auto t1 = std::chrono::steady_clock::now();
    best = std::max(best, double(threads) * perThread * sizeof(float) / seconds(t0, t1));
  }
  volatile float sink = 0;
  for (float v : sinks)
    sink = sink + v;
  (void)sink;
  return best;
}

/// A matrix product of one prefill: an [n, k] weight applied to the rows of
/// the batch (every position, or only the last one of each sequence), `count`
/// times (e.g. once per layer).
struct Product {
  int64_t n = 0, k = 0;
  bool lastPositionsOnly = false;
  int64_t count = 0;
};

/// What the bench needs from the manifest: the weight section's size and the
/// prefill's matrix products.
struct WeightTable {
  uint64_t bytes = 0;
  std::vector<Product> products; ///< one entry per distinct shape and row kind
  std::set<std::string> productDTypes;
};

/// Reads the manifest's weight table. The compiler names the embedding table
/// and the LM head in hyper_parameters ("embedding", "lm_head"; the same name
/// when tied). Without them (older artifacts), the 2-D weights with `vocab`
/// rows are the embedding and the head, of which one counts as the head.
WeightTable readWeightTable(const char *manifestJson, int64_t vocab) {
  WeightTable table;
  auto parsed = llvm::json::parse(manifestJson);
  if (!parsed) {
    llvm::consumeError(parsed.takeError());
    return table;
  }
  auto *obj = parsed->getAsObject();
  if (!obj)
    return table;
  std::string embedding, head;
  if (auto *hyper = obj->getObject("hyper_parameters")) {
    embedding = hyper->getString("embedding").value_or("").str();
    head = hyper->getString("lm_head").value_or("").str();
  }
  bool named = !embedding.empty() && !head.empty();
  bool headSeen = false;
  std::map<std::tuple<int64_t, int64_t, bool>, int64_t> counts;
  if (auto *weights = obj->getArray("weights"))
    for (const llvm::json::Value &w : *weights) {
      auto *wo = w.getAsObject();
      if (!wo)
        continue;
      table.bytes += wo->getInteger("bytes").value_or(0);
      auto *shape = wo->getArray("shape");
      if (!shape || shape->size() != 2)
        continue; // norms, biases, conv kernels: no matrix products
      int64_t n = (*shape)[0].getAsInteger().value_or(0);
      int64_t k = (*shape)[1].getAsInteger().value_or(0);
      std::string name = wo->getString("name").value_or("").str();
      bool isHead, isGather;
      if (named) {
        isHead = name == head;
        isGather = !isHead && name == embedding;
      } else {
        isHead = n == vocab && !headSeen;
        isGather = n == vocab && !isHead;
      }
      headSeen |= isHead;
      if (isGather || n <= 0 || k <= 0)
        continue;
      ++counts[{n, k, isHead}];
      table.productDTypes.insert(wo->getString("dtype").value_or("?").str());
    }
  for (const auto &[key, count] : counts)
    table.products.push_back({std::get<0>(key), std::get<1>(key), std::get<2>(key), count});
  return table;
}

/// Rows of a product in a prefill of `batch` sequences of `promptLen` tokens.
int64_t productRows(const Product &p, int64_t batch, int64_t promptLen) {
  return p.lastPositionsOnly ? batch : batch * promptLen;
}

/// 2*M*N*K summed over the products of one prefill.
double prefillFlops(const std::vector<Product> &products, int64_t batch, int64_t promptLen) {
  double flops = 0;
  for (const Product &p : products)
    flops += 2.0 * productRows(p, batch, promptLen) * p.n * p.k * p.count;
  return flops;
}

#ifdef SSMC_HAVE_OPENBLAS
/// Float buffer aligned for vector loads; null if it cannot be allocated.
struct FloatBuffer {
  float *data = nullptr;
  explicit FloatBuffer(size_t elements) {
    size_t bytes = (elements * sizeof(float) + 63) / 64 * 64;
    data = static_cast<float *>(std::aligned_alloc(64, bytes));
  }
  ~FloatBuffer() { std::free(data); }
  FloatBuffer(const FloatBuffer &) = delete;
  FloatBuffer &operator=(const FloatBuffer &) = delete;
};

constexpr int kGemmRepetitions = 3;
/// Stop repeating a shape once this much time went into it (at least one run).
constexpr double kGemmBudgetSeconds = 2.0;

/// Best time of C[m,n] = A[m,k] * W[n,k]^T in cblas_sgemm (row-major), over
/// up to kGemmRepetitions runs; negative if the buffers cannot be allocated
/// or the shape exceeds OpenBLAS's 32-bit dimensions.
double timeSgemm(int64_t m, int64_t n, int64_t k) {
  const int64_t kMaxDim = INT32_MAX;
  if (m > kMaxDim || n > kMaxDim || k > kMaxDim)
    return -1;
  FloatBuffer a(size_t(m) * k), w(size_t(n) * k), c(size_t(m) * n);
  if (!a.data || !w.data || !c.data)
    return -1;
  // Small non-zero values: no denormals, no overflow, every page touched.
  for (size_t i = 0, e = size_t(m) * k; i < e; ++i)
    a.data[i] = float(int(i % 13) - 6) * 0.01f;
  for (size_t i = 0, e = size_t(n) * k; i < e; ++i)
    w.data[i] = float(int(i % 7) - 3) * 0.01f;
  for (size_t i = 0, e = size_t(m) * n; i < e; ++i)
    c.data[i] = 0;
  double best = -1, spent = 0;
  for (int r = 0; r < kGemmRepetitions && (r == 0 || spent < kGemmBudgetSeconds); ++r) {
    auto t0 = std::chrono::steady_clock::now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(m), int(n), int(k), 1.0f, a.data,
                int(k), w.data, int(k), 0.0f, c.data, int(n));
    double t = seconds(t0, std::chrono::steady_clock::now());
    spent += t;
    best = best < 0 ? t : std::min(best, t);
  }
  return best;
}
#endif

/// One row of the throughput table.
struct Measurement {
  int64_t batch, promptLen;
  double prefillSeconds;
};

/// Prints, per measured (batch, prompt length), ssmc's prefill as a rate of
/// matrix-product FLOPs and, with OpenBLAS, the time of the same products in
/// cblas_sgemm.
void compareWithOpenBLAS(const WeightTable &table, const std::vector<Measurement> &rows,
                         int threads, const char *modelDType) {
  std::string dtypes = llvm::join(table.productDTypes, "/");
  if (dtypes.empty())
    dtypes = modelDType;
  int64_t perToken = 0, lastOnly = 0;
  for (const Product &p : table.products)
    (p.lastPositionsOnly ? lastOnly : perToken) += p.count;
  llvm::outs() << "prefill matrix products (from the weight table): " << perToken
               << " on every position, " << lastOnly << " (LM head) on the last; "
               << table.products.size() << " distinct shapes\n";
  if (table.products.empty()) {
    llvm::outs() << "OpenBLAS comparison: unavailable (no 2-D weights in the manifest)\n";
    return;
  }
#ifdef SSMC_HAVE_OPENBLAS
  openblas_set_num_threads(threads);
  llvm::outs() << "OpenBLAS comparison: cblas_sgemm in f32 (model weights: " << dtypes
               << "), threads: " << openblas_get_num_threads() << ", best of "
               << kGemmRepetitions << "; GFLOP/s count the products' 2*M*N*K only\n";
  timeSgemm(64, 64, 64); // first call: OpenBLAS sets up its buffers and threads
  std::map<std::tuple<int64_t, int64_t, int64_t>, double> timed; // (m, n, k) -> s
#else
  (void)threads;
  llvm::outs() << "OpenBLAS comparison: unavailable (ssmc was built without OpenBLAS; install "
                  "libopenblas-dev and reconfigure); GFLOP/s count the products' 2*M*N*K "
                  "only\n";
#endif
  for (const Measurement &r : rows) {
    double tokens = double(r.batch) * r.promptLen;
    double flops = prefillFlops(table.products, r.batch, r.promptLen);
    llvm::outs() << llvm::format("batch %lld, prompt %lld: ssmc prefill %.1f tok/s = %.2f GFLOP/s",
                                 (long long)r.batch, (long long)r.promptLen,
                                 tokens / r.prefillSeconds, flops / r.prefillSeconds / 1e9);
#ifdef SSMC_HAVE_OPENBLAS
    double blasSeconds = 0;
    for (const Product &p : table.products) {
      int64_t m = productRows(p, r.batch, r.promptLen);
      auto key = std::make_tuple(m, p.n, p.k);
      auto it = timed.find(key);
      if (it == timed.end())
        it = timed.emplace(key, timeSgemm(m, p.n, p.k)).first;
      if (it->second < 0) {
        llvm::outs() << llvm::format("; OpenBLAS cannot run the [%lld x %lld] * [%lld x %lld]^T "
                                     "product here",
                                     (long long)m, (long long)p.k, (long long)p.n, (long long)p.k);
        blasSeconds = -1;
        break;
      }
      blasSeconds += it->second * p.count;
    }
    if (blasSeconds > 0)
      llvm::outs() << llvm::format("; OpenBLAS: same products %.1f tok/s = %.2f GFLOP/s; ssmc "
                                   "prefill is %.1f%% of it",
                                   tokens / blasSeconds, flops / blasSeconds / 1e9,
                                   100.0 * blasSeconds / r.prefillSeconds);
#endif
    llvm::outs() << "\n";
  }
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
  WeightTable table = readWeightTable(info.manifest_json, info.vocab_size);
  uint64_t weights = table.bytes;
  // The session's rule for 0 (every hardware thread), so that OpenBLAS gets
  // the same number.
  int effectiveThreads = static_cast<int>(std::min<int64_t>(threads, 1024));
  if (effectiveThreads <= 0)
    effectiveThreads = std::max(1u, std::thread::hardware_concurrency());
  llvm::outs() << "model: " << info.family << " " << info.dtype << " for " << info.target
               << ", weights " << llvm::format("%.1f", weights / 1e6) << " MB\n";
  llvm::outs() << "threads: " << effectiveThreads << " (ssmc session and OpenBLAS)\n";
  llvm::outs() << llvm::format("%6s %8s %16s %16s\n", "batch", "prompt", "prefill tok/s",
                               "decode tok/s");

  uint64_t rng = static_cast<uint64_t>(seed) * 0x9E3779B97F4A7C15ull + 1;
  auto nextToken = [&]() {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return static_cast<int32_t>(rng % static_cast<uint64_t>(info.vocab_size));
  };
  double batch1Decode = 0;
  std::vector<Measurement> measured;
  for (int64_t batch : batches)
    for (int64_t promptLen : promptLens) {
      ssmc_session *session =
          ssmc_session_create(model, static_cast<int32_t>(batch), promptLen + gen + 1,
                              effectiveThreads, err, sizeof err);
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
      measured.push_back({batch, promptLen, seconds(t0, t1)});
      llvm::outs() << llvm::format("%6lld %8lld %16.1f %16.1f\n", (long long)batch,
                                   (long long)promptLen, prefillRate, decodeRate);
      ssmc_session_free(session);
    }
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  llvm::outs() << llvm::format("peak memory (RSS): %.1f MB\n", usage.ru_maxrss / 1024.0);
  double stream = streamingReadBandwidth(effectiveThreads);
  llvm::outs() << llvm::format(
      "streaming read bandwidth (%d threads, as many as the session's, this run): %.2f GB/s\n",
      effectiveThreads, stream / 1e9);
  if (batch1Decode > 0 && weights > 0)
    llvm::outs() << llvm::format(
        "batch-1 decode weight bandwidth: %.2f GB/s = %.1f%% of streaming bandwidth\n",
        batch1Decode * weights / 1e9, 100.0 * batch1Decode * weights / stream);
  compareWithOpenBLAS(table, measured, effectiveThreads, info.dtype);
  ssmc_model_free(model);
  return 0;
}
