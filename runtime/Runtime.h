//===- Runtime.h - Loaded models, sessions, threads and sampling ----------===//
//
// The C++ core behind the C API (ssmc/ssmc.h). A Model is a validated,
// memory-mapped artifact plus its loaded code; a Session owns the recurrent
// state of up to `batchCapacity` sequences (slots), scratch memory and a
// thread pool, and drives the generated entry points. No layer arithmetic
// lives here: the generated code does all of it.
//
//===----------------------------------------------------------------------===//

#ifndef SSMC_RUNTIME_RUNTIME_H
#define SSMC_RUNTIME_RUNTIME_H

#include "runtime/Artifact.h"
#include "runtime/CudaDevice.h"
#include "ssmc/abi.h"

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace ssmc {
namespace rt {

/// Result codes shared with the C API (values of ssmc_status).
enum class Status : int32_t {
  Ok = 0,
  InvalidArgument = 1,
  OutOfRange = 2,
  CapacityExceeded = 3,
  KernelFailed = 4,
  OutOfMemory = 5,
  LoadFailed = 6,
};

/// Loads the code section into the process: writes it to a memfd (or, where
/// memfd_create is unavailable, an unlinked temp file), dlopen()s it and
/// resolves the ABI version and entry points.
class LoadedCode {
public:
  ~LoadedCode();
  bool load(const std::string &artifactPath, const uint8_t *code,
            uint64_t bytes, const Manifest &manifest, std::string &error);
  /// An optional export of the code section (nullptr if absent).
  void *symbol(const char *name) const;
  ssmc_entry_fn prefill = nullptr;
  ssmc_entry_fn decode = nullptr;

private:
  void *handle = nullptr;
  int memfd = -1;
};

class Model {
public:
  /// Opens, validates and loads `path`; nullptr with `error` on failure.
  static std::shared_ptr<Model> load(const std::string &path,
                                     std::string &error);
  static std::shared_ptr<Model> load(const std::string &path,
                                     const ArtifactReader::Options &options,
                                     std::string &error);

  ~Model();

  const Manifest &manifest() const { return reader.manifest(); }
  const ArtifactReader &artifact() const { return reader; }
  ssmc_entry_fn prefillEntry() const { return code.prefill; }
  ssmc_entry_fn decodeEntry() const { return code.decode; }
  /// CUDA artifacts: the device and the weight section copied to it.
  const std::shared_ptr<CudaDevice> &cudaDevice() const { return cuda; }
  uint64_t deviceWeights() const { return weightsOnDevice; }
  /// The weight section host code reads: the file's mapping, or the section
  /// synthesized at load (null for synthesized CUDA artifacts, whose weights
  /// exist on the device only).
  const uint8_t *hostWeights() const {
    return manifest().synthetic.enabled ? synthesized : reader.weights();
  }
  /// Seconds spent synthesizing the weights at load (incl. the upload of
  /// CUDA artifacts); 0 when they are stored in the file.
  double synthesisSeconds() const { return synthesisTime; }

private:
  Model() = default;
  bool openCuda(unsigned sm, std::string &error);
  /// Fills the synthesized weight section: into host memory (CPU targets)
  /// or, piece by piece through a bounded host buffer, into the device
  /// section (CUDA).
  bool synthesizeWeights(std::string &error);

  ArtifactReader reader;
  LoadedCode code;
  std::shared_ptr<CudaDevice> cuda;
  uint64_t weightsOnDevice = 0;
  uint8_t *synthesized = nullptr; // anonymous mapping of synthesizedBytes
  uint64_t synthesizedBytes = 0;
  double synthesisTime = 0;
};

/// Fixed set of worker threads implementing ssmc_parallel::parallel_for.
class ThreadPool {
public:
  explicit ThreadPool(int numThreads);
  ~ThreadPool();
  int size() const { return numThreads; }
  void parallelFor(int64_t n, ssmc_parallel_body body, void *ctx);
  /// The C-compatible trampoline stored in ssmc_parallel.
  static void parallelForThunk(void *pool, int64_t n, ssmc_parallel_body body,
                               void *ctx);

private:
  void workerLoop(int index);

  int numThreads;
  std::vector<std::thread> workers;
  std::mutex mutex;
  std::condition_variable wake, done;
  uint64_t generation = 0;
  int pending = 0;
  bool stopping = false;
  // The job of the current generation.
  int64_t jobN = 0;
  ssmc_parallel_body jobBody = nullptr;
  void *jobCtx = nullptr;
  std::mutex callMutex; // one parallel_for at a time per pool
};

class Session {
public:
  /// nullptr with `error` on invalid sizes or failed allocation.
  static std::unique_ptr<Session> create(std::shared_ptr<Model> model,
                                         int64_t batchCapacity,
                                         int64_t maxContext, int numThreads,
                                         std::string &error);
  ~Session();

  /// Runs sequences `tokens[i][0 .. lengths[i])` on slots `slots[i]`, each
  /// continuing from the slot's current position; writes `n * vocab` logits.
  Status prefill(int32_t n, const int32_t *slots,
                 const int32_t *const *tokens, const int32_t *lengths,
                 float *logits);
  /// One token per slot.
  Status decode(int32_t n, const int32_t *slots, const int32_t *tokens,
                float *logits);

  /// Bytes of one slot's saved state: a small header, the position and the
  /// slot's row of every state buffer (KV cache rows included).
  uint64_t stateSize() const;
  Status saveState(int32_t slot, void *buffer);
  Status restoreState(int32_t slot, const void *buffer);
  Status resetState(int32_t slot);
  /// Moves `slot` to `position` (0 <= position <= max context) keeping its
  /// state rows as they are.
  Status setPosition(int32_t slot, int64_t position);
  /// Tokens processed by `slot` since its last reset; -1 for a bad slot.
  int64_t position(int32_t slot) const;

  const std::string &lastError() const { return errorMessage; }
  const Model &model() const { return *ownerModel; }
  int64_t batchCapacity() const { return capacity; }
  int64_t maxContext() const { return contextLimit; }

private:
  Session() = default;
  Status fail(Status status, std::string message);
  Status checkSlots(int32_t n, const int32_t *slots);
  Status run(ssmc_entry_fn entry, const char *entryName, int32_t n, const int32_t *slots,
             int64_t seqLen, const int32_t *lengths, float *logits);
  bool ensureScratch(uint64_t bytes);
  /// State memory: host mappings, or device memory for CUDA artifacts.
  void *allocateState(uint64_t bytes, std::string &error);
  void releaseState(void *buffer, uint64_t bytes);
  bool copyStateOut(void *dst, size_t buffer, uint64_t offset, uint64_t bytes);
  bool copyStateIn(size_t buffer, uint64_t offset, const void *src, uint64_t bytes);
  bool zeroState(size_t buffer, uint64_t offset, uint64_t bytes);

  std::shared_ptr<Model> ownerModel;
  std::shared_ptr<CudaDevice> cuda; // the model's, for CUDA artifacts
  void *stream = nullptr;           // CUstream of this session
  ssmc_device device{};
  std::vector<char> deviceError;
  int64_t capacity = 0;
  int64_t contextLimit = 0;
  std::vector<void *> stateBuffers;
  std::vector<uint64_t> stateRowBytes;
  std::vector<uint64_t> stateBufferBytes;
  std::vector<int64_t> positions;
  void *scratch = nullptr;
  uint64_t scratchBytes = 0;
  std::unique_ptr<ThreadPool> pool;
  ssmc_parallel parallel{};
  // Per-call staging, kept to avoid allocating on every decode step.
  /// Most batch-tokens one prefill call hands the generated code (see
  /// Session::prefill): the manifest's hyper_parameters.max_prefill_tokens,
  /// this when it has none (artifacts of older compilers).
  static constexpr int64_t kMaxPrefillTokens = 2048;
  std::vector<int32_t> tokenRect, lengthBuf, slotBuf;
  std::vector<int64_t> positionBuf;
  std::string errorMessage;
};

/// Draws a token from `logits`: argmax when temperature <= 0, otherwise
/// softmax(logits / temperature) restricted to the smallest set of most
/// likely tokens whose mass reaches top_p. Returns -1 on invalid arguments.
/// `rngState` advances (splitmix64), so equal seeds give equal draws on
/// every machine.
int32_t sampleToken(const float *logits, int32_t vocab, float temperature,
                    float topP, uint64_t *rngState);
/// splitmix64 step: advances the state and returns 64 random bits.
uint64_t nextRandom(uint64_t *state);

} // namespace rt
} // namespace ssmc

#endif // SSMC_RUNTIME_RUNTIME_H
