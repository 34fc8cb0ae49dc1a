//===- bench.cpp - ssmc bench / ssmc-run-lite bench, one timing loop ------===//
//
// See Bench.h. The runtime's C API and the C++ standard library only, so
// that ssmc-run-lite (no LLVM, no MLIR) carries it to GPU machines.
//
//===----------------------------------------------------------------------===//

#include "tools/run-lite/Bench.h"

#include <sys/resource.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <thread>
#include <tuple>

namespace ssmc::tools {
namespace {

bool parseCount(const std::string &text, int64_t &out) {
  if (text.empty() || !std::isdigit(static_cast<unsigned char>(text[0])))
    return false;
  errno = 0;
  char *end = nullptr;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (errno || *end)
    return false;
  out = v;
  return true;
}

bool parseList(const std::string &text, std::vector<int64_t> &out) {
  out.clear();
  size_t start = 0;
  while (true) {
    size_t comma = text.find(',', start);
    std::string item = text.substr(start, comma == std::string::npos ? std::string::npos
                                                                     : comma - start);
    while (!item.empty() && std::isspace(static_cast<unsigned char>(item.back())))
      item.pop_back();
    while (!item.empty() && std::isspace(static_cast<unsigned char>(item.front())))
      item.erase(item.begin());
    int64_t v;
    if (!parseCount(item, v) || v <= 0 || v > INT32_MAX)
      return false;
    out.push_back(v);
    if (comma == std::string::npos)
      return true;
    start = comma + 1;
  }
}

double seconds(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

/// Device memory in use now (total - free); 0 for host models.
uint64_t deviceUsed(const ssmc_model *model, uint64_t *total = nullptr) {
  uint64_t freeBytes = 0, totalBytes = 0;
  if (ssmc_device_memory(model, &freeBytes, &totalBytes) != SSMC_OK)
    return 0;
  if (total)
    *total = totalBytes;
  return totalBytes - freeBytes;
}

std::string jsonString(const std::string &s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string jsonNumber(double v) {
  if (!std::isfinite(v))
    return "null";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

std::string jsonInt(uint64_t v) { return std::to_string(v); }

/// Shortest prompt of the warm-up prefill.
constexpr int64_t kWarmupTokens = 16;
} // namespace

const char *benchUsageArgs() {
  return " <model.ssmx> [--batch 1,4,16] [--prompt-len 128,2048] [--gen 64]\n"
         "         [--threads K] [--seed S] [--json out.json] [--budget-seconds S]\n"
         "  Per batch size and prompt length: prefill tokens/s (one prefill of random\n"
         "  prompts, after a short warm-up) and decode tokens/s (batch x --gen steps /\n"
         "  time, all sequences in one call per step, after two warm-up steps: the\n"
         "  second call of a decode shape is the one a GPU captures into a graph).\n"
         "  --threads K  threads of the session (0: every hardware thread)\n"
         "  --json FILE  every figure as one JSON object (weight bytes, parameters,\n"
         "               load time, per run seconds, tokens/s, FLOP/s, bytes/s),\n"
         "               rewritten after every configuration\n"
         "  --budget-seconds S  start no configuration after S seconds (the rest are\n"
         "               listed as skipped)\n"
         "  --skip-prefill  run no prompt: move every sequence to position prompt-len\n"
         "               and time only decode there (long contexts at large batch;\n"
         "               the KV cache is allocated for the whole context)\n";
}

std::string parseBenchArgs(int argc, char **argv, BenchOptions &o, bool &help) {
  help = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      help = true;
      return "";
    }
    if (arg == "--skip-prefill") {
      o.skipPrefill = true;
      continue;
    }
    if (arg == "--batch" || arg == "--prompt-len" || arg == "--gen" || arg == "--threads" ||
        arg == "--seed" || arg == "--json" || arg == "--budget-seconds") {
      if (i + 1 >= argc)
        return arg + " needs a value";
      std::string v = argv[++i];
      if (arg == "--json") {
        o.jsonOut = v;
      } else if (arg == "--budget-seconds") {
        char *end = nullptr;
        double d = std::strtod(v.c_str(), &end);
        if (v.empty() || *end || !(d >= 0) || !std::isfinite(d))
          return arg + " expects a non-negative number, got '" + v + "'";
        o.budgetSeconds = d;
      } else if (arg == "--batch" || arg == "--prompt-len") {
        if (!parseList(v, arg == "--batch" ? o.batches : o.promptLens))
          return arg + " expects positive integers separated by commas, got '" + v + "'";
      } else {
        int64_t n;
        if (!parseCount(v, n) || n < 0)
          return arg + " expects a non-negative integer, got '" + v + "'";
        (arg == "--gen" ? o.gen : arg == "--threads" ? o.threads : o.seed) = n;
      }
    } else if (!arg.empty() && arg[0] == '-') {
      return "unknown option '" + arg + "'";
    } else if (o.path.empty()) {
      o.path = arg;
    } else {
      return "more than one artifact given";
    }
  }
  if (o.path.empty())
    return "no artifact given";
  if (o.gen > INT32_MAX)
    return "--gen is too large";
  return "";
}

WeightTable readWeightTable(const ssmc_model *model) {
  WeightTable table;
  const char *embeddingName = ssmc_model_hyper_parameter(model, "embedding");
  const char *headName = ssmc_model_hyper_parameter(model, "lm_head");
  std::string embedding = embeddingName ? embeddingName : "";
  std::string head = headName ? headName : "";
  ssmc_info info;
  int64_t vocab = ssmc_model_info(model, &info) == SSMC_OK ? info.vocab_size : 0;
  // Without the names (older artifacts), the 2-D weights with `vocab` rows
  // are the embedding and the head, of which one counts as the head.
  bool named = !embedding.empty() && !head.empty();
  bool headSeen = false;
  std::map<std::tuple<int64_t, int64_t, bool>, int64_t> counts;
  std::set<std::string> dtypes;
  for (int32_t i = 0, n = ssmc_model_weight_count(model); i < n; ++i) {
    ssmc_weight_info w;
    if (ssmc_model_weight_info(model, i, &w) != SSMC_OK)
      continue;
    table.bytes += w.bytes;
    int64_t elements = 1;
    for (int32_t d = 0; d < w.rank; ++d)
      elements *= w.shape[d];
    table.parameters += elements;
    if (w.rank != 2)
      continue; // norms, biases, conv kernels: no matrix products
    int64_t rows = w.shape[0], cols = w.shape[1];
    bool isHead, isGather;
    if (named) {
      isHead = head == w.name;
      isGather = !isHead && embedding == w.name;
    } else {
      isHead = rows == vocab && !headSeen;
      isGather = rows == vocab && !isHead;
    }
    headSeen |= isHead;
    if (isGather || rows <= 0 || cols <= 0)
      continue;
    ++counts[{rows, cols, isHead}];
    dtypes.insert(w.dtype);
  }
  for (const auto &[key, count] : counts)
    table.products.push_back({std::get<0>(key), std::get<1>(key), std::get<2>(key), count});
  table.productDTypes.assign(dtypes.begin(), dtypes.end());
  return table;
}

int64_t productRows(const Product &p, int64_t batch, int64_t promptLen) {
  return p.lastPositionsOnly ? batch : batch * promptLen;
}

double prefillFlops(const std::vector<Product> &products, int64_t batch, int64_t promptLen) {
  double flops = 0;
  for (const Product &p : products)
    flops += 2.0 * double(productRows(p, batch, promptLen)) * double(p.n) * double(p.k) *
             double(p.count);
  return flops;
}

double BenchRow::prefillTokensPerSecond() const {
  return prefillSeconds > 0 ? double(batch) * double(promptLen) / prefillSeconds : 0;
}

double BenchRow::decodeTokensPerSecond() const {
  return decodeSeconds > 0 ? double(batch) * double(decodeSteps) / decodeSeconds : 0;
}

void describeModel(ssmc_model *model, const BenchOptions &options, BenchReport &report) {
  ssmc_info info;
  ssmc_model_info(model, &info);
  report.path = options.path;
  report.family = info.family;
  report.dtype = info.dtype;
  report.target = info.target;
  report.vocab = info.vocab_size;
  report.weights = readWeightTable(model);
  report.synthetic = std::strstr(info.manifest_json, "\"synthetic_weights\"") != nullptr;
  report.synthesisSeconds = ssmc_model_synthesis_seconds(model);
  // The session's rule for 0 (every hardware thread).
  report.threads = static_cast<int>(std::min<int64_t>(options.threads, 1024));
  if (report.threads <= 0)
    report.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  report.gen = options.gen;
  report.deviceUsedAfterLoadBytes = deviceUsed(model, &report.deviceTotalBytes);
  report.device = report.deviceTotalBytes > 0;
}

void runBenchmarks(ssmc_model *model, const BenchOptions &options, BenchReport &report,
                   const std::function<void(const BenchRow &)> &onRow) {
  const int32_t vocab = report.vocab;
  uint64_t rng = static_cast<uint64_t>(options.seed) * 0x9E3779B97F4A7C15ull + 1;
  auto nextToken = [&]() {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return static_cast<int32_t>(rng % static_cast<uint64_t>(vocab));
  };
  char err[1024] = {0};
  const auto start = std::chrono::steady_clock::now();
  for (int64_t batch : options.batches)
    for (int64_t promptLen : options.promptLens) {
      BenchRow row;
      row.batch = batch;
      row.promptLen = promptLen;
      if (options.budgetSeconds > 0 &&
          seconds(start, std::chrono::steady_clock::now()) > options.budgetSeconds) {
        row.skipped = true;
        report.rows.push_back(row);
        onRow(row);
        continue;
      }
      const int32_t n = static_cast<int32_t>(batch);
      // The prompt, then two warm-up decode steps and --gen timed ones.
      ssmc_session *session = ssmc_session_create(model, n, promptLen + options.gen + 2,
                                                  report.threads, err, sizeof err);
      if (!session) {
        row.error = std::string("session: ") + err;
        report.rows.push_back(row);
        onRow(row);
        continue;
      }
      auto sample = [&] { row.deviceUsedBytes = std::max(row.deviceUsedBytes, deviceUsed(model)); };
      sample();
      std::vector<std::vector<int32_t>> prompts(batch, std::vector<int32_t>(promptLen));
      for (auto &p : prompts)
        for (int32_t &t : p)
          t = nextToken();
      std::vector<int32_t> slots(batch), lengths(batch, static_cast<int32_t>(promptLen));
      std::vector<const int32_t *> ptrs(batch);
      for (int64_t i = 0; i < batch; ++i) {
        slots[i] = static_cast<int32_t>(i);
        ptrs[i] = prompts[i].data();
      }
      std::vector<int32_t> steps(static_cast<size_t>(batch) * (options.gen + 2));
      for (int32_t &t : steps)
        t = nextToken();
      std::vector<float> logits(static_cast<size_t>(batch) * vocab);
      auto failed = [&](const char *what, ssmc_status s) {
        row.error = std::string(what) + ": " + ssmc_last_error(session) + " (" +
                    ssmc_status_string(s) + ")";
      };

      // Warm-up: a short prefill on every slot (first launches, module
      // loads, buffer pools), then every slot starts over.
      std::vector<int32_t> warmLengths(batch,
                                       static_cast<int32_t>(std::min(promptLen, kWarmupTokens)));
      ssmc_status s = SSMC_OK;
      if (options.skipPrefill) {
        // The context without its prompt; a decode step more of warm-up
        // (the second call of a decode shape is the one captured).
        for (int64_t i = 0; s == SSMC_OK && i < batch; ++i)
          s = ssmc_state_set_position(session, slots[i], promptLen - 1);
        if (s == SSMC_OK)
          s = ssmc_decode(session, n, slots.data(), steps.data(), logits.data());
      } else {
        s = ssmc_prefill(session, n, slots.data(), ptrs.data(), warmLengths.data(), logits.data());
        for (int64_t i = 0; s == SSMC_OK && i < batch; ++i)
          s = ssmc_state_reset(session, slots[i]);
      }
      if (s != SSMC_OK)
        failed("warm-up", s);

      if (row.error.empty() && !options.skipPrefill) {
        auto t0 = std::chrono::steady_clock::now();
        s = ssmc_prefill(session, n, slots.data(), ptrs.data(), lengths.data(), logits.data());
        auto t1 = std::chrono::steady_clock::now();
        sample();
        if (s != SSMC_OK)
          failed("prefill", s);
        else
          row.prefillSeconds = seconds(t0, t1);
      }
      if (row.error.empty() && options.gen > 0) {
        // Two untimed steps: a decode shape's first call runs directly and
        // its second is captured into a CUDA graph (capture and
        // instantiation are one-time costs, not the decode rate).
        s = ssmc_decode(session, n, slots.data(), steps.data(), logits.data());
        if (s == SSMC_OK)
          s = ssmc_decode(session, n, slots.data(), steps.data() + batch, logits.data());
        auto t0 = std::chrono::steady_clock::now();
        for (int64_t step = 2; s == SSMC_OK && step <= options.gen + 1; ++step)
          s = ssmc_decode(session, n, slots.data(), steps.data() + step * batch, logits.data());
        auto t1 = std::chrono::steady_clock::now();
        sample();
        if (s != SSMC_OK) {
          failed("decode", s);
        } else {
          row.decodeSteps = options.gen;
          row.decodeSeconds = seconds(t0, t1);
        }
      }
      ssmc_session_free(session);
      struct rusage usage;
      getrusage(RUSAGE_SELF, &usage);
      report.peakRssBytes = static_cast<uint64_t>(usage.ru_maxrss) * 1024;
      report.rows.push_back(row);
      onRow(row);
    }
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  report.peakRssBytes = static_cast<uint64_t>(usage.ru_maxrss) * 1024;
}

void printBenchHeader(const BenchReport &report, const char *threadsNote) {
  std::printf("model: %s %s for %s, weights %.1f MB\n", report.family.c_str(),
              report.dtype.c_str(), report.target.c_str(), report.weights.bytes / 1e6);
  if (report.synthetic)
    std::printf("load: %.2f s (weights synthesized at load: %.2f s)\n", report.loadSeconds,
                report.synthesisSeconds);
  else
    std::printf("load: %.2f s\n", report.loadSeconds);
  std::printf("threads: %d%s\n", report.threads, threadsNote);
  std::printf("%6s %8s %16s %16s\n", "batch", "prompt", "prefill tok/s", "decode tok/s");
  std::fflush(stdout);
}

void printBenchRow(const BenchRow &row) {
  if (row.skipped)
    std::printf("%6lld %8lld  skipped (--budget-seconds)\n", (long long)row.batch,
                (long long)row.promptLen);
  else if (!row.error.empty())
    std::printf("%6lld %8lld  error: %s\n", (long long)row.batch, (long long)row.promptLen,
                row.error.c_str());
  else if (row.prefillSeconds <= 0) // --skip-prefill
    std::printf("%6lld %8lld %16s %16.1f\n", (long long)row.batch, (long long)row.promptLen, "-",
                row.decodeTokensPerSecond());
  else
    std::printf("%6lld %8lld %16.1f %16.1f\n", (long long)row.batch, (long long)row.promptLen,
                row.prefillTokensPerSecond(), row.decodeTokensPerSecond());
  std::fflush(stdout);
}

void printBenchMemory(const BenchReport &report) {
  std::printf("peak memory (RSS): %.1f MB\n", report.peakRssBytes / 1048576.0);
  if (report.device) {
    uint64_t peak = 0;
    for (const BenchRow &r : report.rows)
      peak = std::max(peak, r.deviceUsedBytes);
    std::printf("device memory in use: %.1f MB after load, at most %.1f MB seen after calls "
                "(of %.1f MB)\n",
                report.deviceUsedAfterLoadBytes / 1048576.0, peak / 1048576.0,
                report.deviceTotalBytes / 1048576.0);
  }
  std::fflush(stdout);
}

std::string benchJson(const BenchReport &r, const std::vector<std::string> &extra) {
  int64_t headParameters = 0, perTokenParameters = 0;
  for (const Product &p : r.weights.products)
    (p.lastPositionsOnly ? headParameters : perTokenParameters) += p.n * p.k * p.count;
  std::string out = "{\n";
  auto member = [&](const std::string &name, const std::string &value) {
    out += "  " + jsonString(name) + ": " + value + ",\n";
  };
  member("artifact", jsonString(r.path));
  member("family", jsonString(r.family));
  member("dtype", jsonString(r.dtype));
  member("target", jsonString(r.target));
  member("vocab", jsonInt(r.vocab));
  member("weight_bytes", jsonInt(r.weights.bytes));
  member("parameters", jsonInt(r.weights.parameters));
  // Weights of the prefill's products: on every position, and the LM head
  // on the last ones (the embedding table is a gather).
  member("matmul_parameters_per_token", jsonInt(perTokenParameters));
  member("lm_head_parameters", jsonInt(headParameters));
  member("synthetic_weights", r.synthetic ? "true" : "false");
  member("load_seconds", jsonNumber(r.loadSeconds));
  member("synthesis_seconds", jsonNumber(r.synthesisSeconds));
  member("threads", jsonInt(r.threads));
  member("gen", jsonInt(r.gen));
  member("peak_rss_bytes", jsonInt(r.peakRssBytes));
  if (r.device) {
    member("device_total_bytes", jsonInt(r.deviceTotalBytes));
    member("device_used_after_load_bytes", jsonInt(r.deviceUsedAfterLoadBytes));
  }
  for (const std::string &e : extra)
    out += "  " + e + ",\n";
  out += "  \"runs\": [";
  for (size_t i = 0; i < r.rows.size(); ++i) {
    const BenchRow &row = r.rows[i];
    out += i ? ",\n    {" : "\n    {";
    std::vector<std::pair<std::string, std::string>> m = {
        {"batch", jsonInt(row.batch)},
        {"prompt_len", jsonInt(row.promptLen)},
        {"error", row.error.empty() ? "null" : jsonString(row.error)},
        {"skipped", row.skipped ? "true" : "false"},
    };
    if (!row.skipped && (row.error.empty() || row.prefillSeconds > 0)) {
      double flops = prefillFlops(r.weights.products, row.batch, row.promptLen);
      m.insert(m.end(), {
                            {"prefill_tokens", jsonInt(row.batch * row.promptLen)},
                            {"prefill_seconds", jsonNumber(row.prefillSeconds)},
                            {"prefill_tokens_per_s", jsonNumber(row.prefillTokensPerSecond())},
                            {"prefill_matmul_flops", jsonNumber(flops)},
                            {"prefill_matmul_flops_per_s",
                             jsonNumber(row.prefillSeconds > 0 ? flops / row.prefillSeconds : 0)},
                        });
    }
    if (row.decodeSteps > 0) {
      double stepSeconds = row.decodeSeconds / double(row.decodeSteps);
      m.insert(m.end(),
               {
                   {"decode_steps", jsonInt(row.decodeSteps)},
                   {"decode_seconds", jsonNumber(row.decodeSeconds)},
                   {"decode_tokens_per_s", jsonNumber(row.decodeTokensPerSecond())},
                   {"decode_step_seconds", jsonNumber(stepSeconds)},
                   // Every step reads every weight once.
                   {"decode_weight_bytes_per_s",
                    jsonNumber(stepSeconds > 0 ? double(r.weights.bytes) / stepSeconds : 0)},
               });
    }
    if (r.device)
      m.push_back({"device_used_bytes", jsonInt(row.deviceUsedBytes)});
    for (size_t k = 0; k < m.size(); ++k)
      out += (k ? ", " : "") + jsonString(m[k].first) + ": " + m[k].second;
    out += "}";
  }
  out += r.rows.empty() ? "]\n}\n" : "\n  ]\n}\n";
  return out;
}

std::string writeTextFile(const std::string &path, const std::string &text) {
  FILE *f = std::fopen(path.c_str(), "w");
  if (!f)
    return "cannot write '" + path + "': " + std::strerror(errno);
  bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  if (std::fclose(f) != 0 || !ok)
    return "cannot write '" + path + "': " + std::strerror(errno);
  return "";
}

int runBenchLite(const char *tool, int argc, char **argv) {
  auto fail = [&](const std::string &message) {
    std::fprintf(stderr, "%s: error: %s\n", tool, message.c_str());
    return 1;
  };
  BenchOptions options;
  bool help = false;
  std::string error = parseBenchArgs(argc, argv, options, help);
  if (help) {
    std::printf("USAGE: %s%s", tool, benchUsageArgs());
    return 0;
  }
  if (!error.empty())
    return fail(error + (error == "no artifact given"
                             ? std::string("\nUSAGE: ") + tool + benchUsageArgs()
                             : error.rfind("unknown option", 0) == 0
                                 ? std::string(" (see ") + tool + " --help)"
                                 : std::string()));
  char err[1024] = {0};
  auto t0 = std::chrono::steady_clock::now();
  ssmc_model *model = ssmc_model_load(options.path.c_str(), err, sizeof err);
  if (!model)
    return fail(err);
  BenchReport report;
  report.loadSeconds = seconds(t0, std::chrono::steady_clock::now());
  describeModel(model, options, report);
  printBenchHeader(report, "");
  std::string jsonError;
  auto writeJson = [&] {
    if (!options.jsonOut.empty() && jsonError.empty())
      jsonError = writeTextFile(options.jsonOut, benchJson(report));
  };
  writeJson(); // the model's figures, before the first configuration
  runBenchmarks(model, options, report, [&](const BenchRow &row) {
    printBenchRow(row);
    writeJson();
  });
  printBenchMemory(report);
  ssmc_model_free(model);
  size_t failures = 0;
  for (const BenchRow &r : report.rows)
    failures += !r.error.empty();
  writeJson();
  if (!jsonError.empty())
    return fail(jsonError);
  if (failures)
    return fail(std::to_string(failures) + " of " + std::to_string(report.rows.size()) +
                " configurations failed");
  return 0;
}

} // namespace ssmc::tools
