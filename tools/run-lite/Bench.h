//===- Bench.h - ssmc bench / ssmc-run-lite bench, one timing loop -*- C++ -*-===//
//
// The throughput measurement of `ssmc bench` (compiler/ssmc/BenchCommand.cpp,
// which adds the streaming-bandwidth and OpenBLAS comparisons) and of
// `ssmc-run-lite bench` (GPU machines without LLVM). It uses the runtime's C
// API and the C++ standard library only.
//
// Per (batch, prompt length), in a session of `batch` slots:
//   prefill  one ssmc_prefill of `batch` random prompts of that length (the
//            runtime splits it as it always does), after an untimed warm-up
//            prefill of a few tokens and a reset of every slot;
//   decode   one untimed warm-up step, then --gen steps of one ssmc_decode
//            call for all `batch` sequences each (random token ids);
// timed with the wall clock around the calls (they return when the work is
// done, also on CUDA).
//
//===----------------------------------------------------------------------===//
#ifndef SSMC_TOOLS_RUN_LITE_BENCH_H
#define SSMC_TOOLS_RUN_LITE_BENCH_H

#include "ssmc/ssmc.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace ssmc::tools {

struct BenchOptions {
  std::string path;
  std::vector<int64_t> batches{1, 4, 16};
  std::vector<int64_t> promptLens{128, 2048};
  int64_t gen = 64;
  int64_t threads = 0; ///< 0: every hardware thread
  int64_t seed = 0;    ///< of the random prompts
  std::string jsonOut; ///< --json FILE ("" for none)
  /// --budget-seconds: no configuration starts after this many seconds of
  /// the run (0: no limit); the rest are reported as skipped.
  double budgetSeconds = 0;
  /// --skip-prefill: no prompt is run; every slot is moved to position
  /// `prompt-len` (ssmc_state_set_position) and only decode is timed, deep
  /// into the context at the cost of one step (the KV cache is allocated for
  /// the whole context, so memory is as in a real run).
  bool skipPrefill = false;
};

/// The flags, shared by both tools.
const char *benchUsageArgs();
/// Parses argv[1..]; returns "" or the error message. Sets `help` for --help.
std::string parseBenchArgs(int argc, char **argv, BenchOptions &options, bool &help);

/// A matrix product of one prefill: an [n, k] weight applied to the rows of
/// the batch (every position, or only the last one of each sequence), `count`
/// times (e.g. once per layer).
struct Product {
  int64_t n = 0, k = 0;
  bool lastPositionsOnly = false;
  int64_t count = 0;
};

/// What the benches need from the weight table: bytes, parameters and the
/// prefill's matrix products (every 2-D weight but the embedding table, a
/// gather; the LM head on the last positions only).
struct WeightTable {
  uint64_t bytes = 0;
  int64_t parameters = 0;                    ///< elements of every weight
  std::vector<Product> products;             ///< one per distinct shape and row kind
  std::vector<std::string> productDTypes;    ///< distinct, sorted
};
WeightTable readWeightTable(const ssmc_model *model);
/// Rows of a product in a prefill of `batch` sequences of `promptLen` tokens.
int64_t productRows(const Product &p, int64_t batch, int64_t promptLen);
/// 2*M*N*K summed over the products of one prefill.
double prefillFlops(const std::vector<Product> &products, int64_t batch, int64_t promptLen);

struct BenchRow {
  int64_t batch = 0, promptLen = 0;
  std::string error; ///< non-empty: this configuration failed (the others still run)
  bool skipped = false; ///< not run: over --budget-seconds
  double prefillSeconds = 0;
  int64_t decodeSteps = 0;
  double decodeSeconds = 0;
  /// CUDA: device memory in use (total - free), the most seen right after
  /// session creation, the prefill and the decode steps; 0 elsewhere.
  uint64_t deviceUsedBytes = 0;
  double prefillTokensPerSecond() const;
  double decodeTokensPerSecond() const;
};

struct BenchReport {
  std::string path, family, dtype, target;
  int32_t vocab = 0;
  WeightTable weights;
  bool synthetic = false; ///< weights synthesized at load
  double loadSeconds = 0, synthesisSeconds = 0;
  int threads = 0;
  int64_t gen = 0;
  bool device = false; ///< CUDA: the device figures below are set
  uint64_t deviceTotalBytes = 0, deviceUsedAfterLoadBytes = 0;
  std::vector<BenchRow> rows;
  uint64_t peakRssBytes = 0; ///< of this process, after the runs
};

/// Fills the model part of `report` (`loadSeconds` is the caller's).
void describeModel(ssmc_model *model, const BenchOptions &options, BenchReport &report);
/// Runs every (batch, prompt length) of `options` on `model`, calling
/// `onRow` after each (with `report` updated: e.g. to rewrite --json, so that
/// a run stopped from outside keeps what it measured); failed configurations
/// carry their error.
void runBenchmarks(ssmc_model *model, const BenchOptions &options, BenchReport &report,
                   const std::function<void(const BenchRow &)> &onRow);

/// "model: ...", the threads line (with `threadsNote` appended) and the table
/// header.
void printBenchHeader(const BenchReport &report, const char *threadsNote);
/// One table row: batch, prompt, prefill tok/s, decode tok/s (or the error).
void printBenchRow(const BenchRow &row);
/// "peak memory (RSS): ..." and, for CUDA, device memory.
void printBenchMemory(const BenchReport &report);

/// The report as one JSON object (every figure, plus derived ones: prefill
/// matrix FLOP/s, decode weight bytes/s). `extra` holds more members, each
/// already `"name": value`.
std::string benchJson(const BenchReport &report, const std::vector<std::string> &extra = {});
/// Writes `text` to `path`; "" or the error message.
std::string writeTextFile(const std::string &path, const std::string &text);

/// The whole `<tool> bench ...` command on the C API alone: parse, load,
/// run, print, --json. Returns the process status.
int runBenchLite(const char *tool, int argc, char **argv);

} // namespace ssmc::tools

#endif // SSMC_TOOLS_RUN_LITE_BENCH_H
