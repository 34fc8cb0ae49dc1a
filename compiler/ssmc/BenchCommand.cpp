//===- BenchCommand.cpp - ssmc bench --------------------------------------===//
//
// `ssmc bench model.ssmx [--batch 1,4,16] [--prompt-len 128,2048] [--gen 64]
//  [--threads K] [--seed S] [--json out.json]`: prefill and decode throughput
// per batch size and prompt length through the runtime's C API (the timing
// loop is tools/run-lite/Bench.h, shared with `ssmc-run-lite bench`), peak
// memory, and — measured in
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
#include "tools/run-lite/Bench.h"

#include "ssmc/ssmc.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Format.h"
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
using ssmc::tools::Product;
using ssmc::tools::WeightTable;
using ssmc::tools::prefillFlops;
using ssmc::tools::productRows;

const char *kUsageTail =
    "  Prints prefill and decode tokens/s per batch size and prompt length, peak\n"
    "  memory, the streaming read bandwidth of this machine measured in the same\n"
    "  run, the batch-1 decode's weight bandwidth as a fraction of it, and per\n"
    "  batch size and prompt length the rate of the same prefill's matrix\n"
    "  products in OpenBLAS (cblas_sgemm, f32) next to ssmc's. --threads K is\n"
    "  also OpenBLAS's thread count. ssmc-run-lite bench runs the same timing\n"
    "  loop without the comparisons (runtime only, e.g. on GPU machines).\n";

int fail(const llvm::Twine &message) {
  llvm::errs() << "ssmc bench: error: " << message << "\n";
  return 1;
}

double seconds(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

/// Best-of-3 read bandwidth over 2 GiB with `threads` threads, bytes per second.
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
                         int threads, const std::string &modelDType) {
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
  ssmc::tools::BenchOptions options;
  bool help = false;
  std::string error = ssmc::tools::parseBenchArgs(argc, argv, options, help);
  if (help) {
    llvm::outs() << "USAGE: ssmc bench" << ssmc::tools::benchUsageArgs() << kUsageTail;
    return 0;
  }
  if (error == "no artifact given")
    return fail(error + "\nUSAGE: ssmc bench" + ssmc::tools::benchUsageArgs());
  if (!error.empty())
    return fail(error + (llvm::StringRef(error).starts_with("unknown option")
                             ? " (see ssmc bench --help)"
                             : ""));

  char err[1024] = {0};
  auto t0 = std::chrono::steady_clock::now();
  ssmc_model *model = ssmc_model_load(options.path.c_str(), err, sizeof err);
  if (!model)
    return fail(err);
  ssmc::tools::BenchReport report;
  report.loadSeconds = seconds(t0, std::chrono::steady_clock::now());
  ssmc::tools::describeModel(model, options, report);
  // Output of the shared loop goes through stdio; keep llvm::outs() in order.
  llvm::outs().flush();
  ssmc::tools::printBenchHeader(report, " (ssmc session and OpenBLAS)");
  std::string jsonError;
  auto writeJson = [&](const std::vector<std::string> &extra) {
    if (!options.jsonOut.empty() && jsonError.empty())
      jsonError = ssmc::tools::writeTextFile(options.jsonOut,
                                             ssmc::tools::benchJson(report, extra));
  };
  ssmc::tools::runBenchmarks(model, options, report, [&](const ssmc::tools::BenchRow &row) {
    ssmc::tools::printBenchRow(row);
    writeJson({});
  });
  ssmc::tools::printBenchMemory(report);
  ssmc_model_free(model);

  double batch1Decode = 0;
  std::vector<Measurement> measured;
  size_t failures = 0;
  for (const ssmc::tools::BenchRow &r : report.rows) {
    if (!r.error.empty() || r.skipped) {
      failures += !r.error.empty();
      continue;
    }
    if (r.batch == 1 && batch1Decode == 0)
      batch1Decode = r.decodeTokensPerSecond();
    measured.push_back({r.batch, r.promptLen, r.prefillSeconds});
  }
  const uint64_t weights = report.weights.bytes;
  const int threads = report.threads;
  double stream = streamingReadBandwidth(threads);
  llvm::outs() << llvm::format(
      "streaming read bandwidth (%d threads, as many as the session's, this run): %.2f GB/s\n",
      threads, stream / 1e9);
  if (batch1Decode > 0 && weights > 0)
    llvm::outs() << llvm::format(
        "batch-1 decode weight bandwidth: %.2f GB/s = %.1f%% of streaming bandwidth\n",
        batch1Decode * weights / 1e9, 100.0 * batch1Decode * weights / stream);
  compareWithOpenBLAS(report.weights, measured, threads, report.dtype);
  writeJson({"\"streaming_read_bytes_per_s\": " + std::to_string(static_cast<uint64_t>(stream))});
  if (!jsonError.empty())
    return fail(jsonError);
  if (failures)
    return fail(llvm::Twine(failures) + " of " + llvm::Twine(report.rows.size()) +
                " configurations failed");
  return 0;
}
