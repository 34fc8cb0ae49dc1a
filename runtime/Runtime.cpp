//===- Runtime.cpp - Loaded models, sessions and threads ------------------===//

#include "runtime/Runtime.h"
#include "runtime/VendorGemm.h"
#include "runtime/WeightSynthesis.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include <dlfcn.h>
#include <sys/mman.h>
#include <unistd.h>

namespace ssmc {
namespace rt {

//===----------------------------------------------------------------------===//
// Code loading
//===----------------------------------------------------------------------===//

static bool writeAll(int fd, const uint8_t *data, uint64_t bytes) {
  while (bytes > 0) {
    ssize_t n = ::write(fd, data, bytes > (1u << 30) ? (1u << 30) : bytes);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    data += n;
    bytes -= static_cast<uint64_t>(n);
  }
  return true;
}

// State, scratch and synthesized weights come from anonymous mappings:
// zeroed, page aligned, and untouched pages of a large KV cache cost nothing.
static void *mapZeroed(uint64_t bytes) {
  if (bytes == 0)
    return nullptr;
  void *p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

/// Asks for transparent huge pages (where the kernel leaves it to madvise):
/// filling gigabytes of synthesized weights otherwise spends much of its time
/// in page faults (measured: 10 ns per element with 4 KiB pages vs 2.5 ns
/// with 2 MiB pages on a 2-core VM).
static void adviseHugePages(void *p, uint64_t bytes) {
#ifdef MADV_HUGEPAGE
  if (p && bytes >= (uint64_t(2) << 20))
    madvise(p, bytes, MADV_HUGEPAGE);
#else
  (void)p;
  (void)bytes;
#endif
}

static void unmapZeroed(void *p, uint64_t bytes) {
  if (p)
    munmap(p, bytes);
}


LoadedCode::~LoadedCode() {
  if (handle)
    dlclose(handle);
  if (memfd >= 0)
    ::close(memfd);
}

/// glibc recognizes an already loaded object by its path string before it
/// looks at the file: a NODELETE object once loaded from "/proc/self/fd/5"
/// (LLVM's CMake links shared objects with -z nodelete) would be handed out
/// again for a new memfd that reuses fd 5. So every load uses a spelling of
/// the path never used before in this process: a process-wide counter,
/// written in binary as "/" (0) and "/." (1) before the path, which names the
/// same file. An RTLD_NOLOAD probe guards against names others loaded.
static std::string unusedLoadPath(const std::string &path) {
  static std::atomic<uint64_t> loads{0};
  for (int attempt = 0; attempt < 64; ++attempt) {
    uint64_t k = loads.fetch_add(1);
    std::string prefix;
    for (; k != 0; k >>= 1)
      prefix.insert(0, (k & 1) ? "/." : "/");
    std::string candidate = prefix + path;
    void *existing = dlopen(candidate.c_str(), RTLD_LAZY | RTLD_NOLOAD);
    if (!existing)
      return candidate;
    dlclose(existing);
  }
  return "";
}

bool LoadedCode::load(const std::string &artifactPath, const uint8_t *code,
                      uint64_t bytes, const Manifest &manifest,
                      std::string &error) {
  const std::string where = artifactPath + ": ";
  if (manifest.abiVersion != SSMC_ABI_VERSION) {
    error = where + "manifest declares code ABI version " +
            std::to_string(manifest.abiVersion) +
            "; this runtime implements version " +
            std::to_string(SSMC_ABI_VERSION);
    return false;
  }
  // dlopen needs a path. A memfd keeps the code off the file system; an
  // unlinked temp file is the fallback where memfd or /proc is missing.
  std::string soPath;
  int fd = -1;
#if defined(__linux__) && defined(MFD_CLOEXEC)
  fd = memfd_create("ssmc-code", MFD_CLOEXEC);
  if (fd >= 0) {
    soPath = "/proc/self/fd/" + std::to_string(fd);
    if (!writeAll(fd, code, bytes) || ::access(soPath.c_str(), R_OK) != 0) {
      ::close(fd);
      fd = -1;
    }
  }
#endif
  bool tempFile = false;
  if (fd < 0) {
    const char *tmpDir = std::getenv("TMPDIR");
    std::string pattern =
        std::string(tmpDir && *tmpDir ? tmpDir : "/tmp") + "/ssmc-code-" +
        std::to_string(getpid()) + "-XXXXXX";
    std::vector<char> name(pattern.begin(), pattern.end());
    name.push_back('\0');
    fd = mkstemp(name.data());
    if (fd < 0) {
      error = where + "cannot create a file for the code section: " +
              std::strerror(errno);
      return false;
    }
    soPath = name.data();
    tempFile = true;
    if (!writeAll(fd, code, bytes)) {
      error = where + "cannot write the code section to " + soPath + ": " +
              std::strerror(errno);
      ::close(fd);
      ::unlink(soPath.c_str());
      return false;
    }
  }
  std::string loadPath = unusedLoadPath(soPath);
  if (loadPath.empty()) {
    error = where + "cannot find an unused path to load the code section from";
    ::close(fd);
    if (tempFile)
      ::unlink(soPath.c_str());
    return false;
  }
  handle = dlopen(loadPath.c_str(), RTLD_NOW | RTLD_LOCAL);
  std::string dlError = handle ? "" : dlerror();
  if (tempFile) {
    ::close(fd);
    ::unlink(soPath.c_str());
  } else {
    // Kept open while loaded, so that live models never share an fd path.
    memfd = fd;
  }
  if (!handle) {
    error = where + "cannot load the code section: " + dlError;
    return false;
  }

  const auto *abiVersion = static_cast<const uint32_t *>(
      dlsym(handle, SSMC_ABI_VERSION_SYMBOL));
  if (!abiVersion) {
    error = where + "code section does not export '" SSMC_ABI_VERSION_SYMBOL
                    "'";
    return false;
  }
  if (*abiVersion != SSMC_ABI_VERSION) {
    error = where + "code section was built for ABI version " +
            std::to_string(*abiVersion) + "; this runtime implements version " +
            std::to_string(SSMC_ABI_VERSION);
    return false;
  }
  struct {
    const std::string &name;
    const char *field;
    ssmc_entry_fn &fn;
  } entries[] = {{manifest.prefillEntry, "prefill", prefill},
                 {manifest.decodeEntry, "decode", decode}};
  for (auto &e : entries) {
    void *symbol = dlsym(handle, e.name.c_str());
    if (!symbol) {
      error = where + "code section does not export the " + e.field +
              " entry point '" + e.name + "'";
      return false;
    }
    // POSIX guarantees that dlsym results convert to function pointers.
    std::memcpy(&e.fn, &symbol, sizeof(symbol));
  }
  return true;
}

void *LoadedCode::symbol(const char *name) const {
  return handle ? dlsym(handle, name) : nullptr;
}

std::shared_ptr<Model> Model::load(const std::string &path,
                                   std::string &error) {
  return load(path, ArtifactReader::Options(), error);
}

std::shared_ptr<Model> Model::load(const std::string &path,
                                   const ArtifactReader::Options &options,
                                   std::string &error) {
  std::shared_ptr<Model> model(new Model());
  if (!model->reader.open(path, options, error))
    return nullptr;
  if (!model->code.load(path, model->reader.code(), model->reader.codeBytes(),
                        model->reader.manifest(), error))
    return nullptr;
  if (unsigned sm = cudaTargetSm(model->manifest().target)) {
    if (!model->openCuda(sm, error)) {
      error = path + ": " + error;
      return nullptr;
    }
  } else if (model->manifest().synthetic.enabled) {
    if (!model->synthesizeWeights(error)) {
      error = path + ": " + error;
      return nullptr;
    }
  }
  return model;
}

bool Model::openCuda(unsigned sm, std::string &error) {
  cuda = CudaDevice::open(sm, error);
  if (!cuda)
    return false;
  // The weights live on the device for the model's lifetime.
  uint64_t bytes = manifest().weightSectionBytes(reader.weightsBytes());
  if (!cuda->allocate(bytes, weightsOnDevice, error) ||
      (!manifest().synthetic.enabled &&
       !cuda->upload(weightsOnDevice, reader.weights(), bytes, error))) {
    error = (manifest().synthetic.enabled ? "allocating " : "copying ") +
            std::to_string(bytes) + " bytes of weights " +
            (manifest().synthetic.enabled ? "on " : "to ") + cuda->description() + ": " +
            error;
    return false;
  }
  return !manifest().synthetic.enabled || synthesizeWeights(error);
}

//===----------------------------------------------------------------------===//
// Synthesized weights
//===----------------------------------------------------------------------===//

namespace {
/// A synthesized weight as the fill loop needs it.
struct SynthTensor {
  synth::Init init;
  uint64_t hash = 0;
  int64_t elements = 0;
  synth::Element generated = synth::Element::F32, stored = synth::Element::F32;
};

/// One block of one weight: fills section bytes [begin, end) after zeroing
/// the alignment gap [gapStart, begin) before it.
struct SynthItem {
  uint32_t tensor;
  int64_t block;
  uint64_t gapStart, begin, end;
};

/// Items of consecutive section bytes filled into one buffer that holds
/// section bytes [base, ...).
struct FillJob {
  const std::vector<SynthTensor> *tensors;
  const std::vector<SynthItem> *items;
  uint64_t seed;
  size_t last;
  uint64_t base;
  uint8_t *out;
  std::atomic<size_t> next;
};

/// One worker of a FillJob: takes items until none are left (blocks are
/// of equal size, but the log/exp distributions cost more per element).
void fillWorker(void *ctx, int64_t, int64_t) {
  FillJob &job = *static_cast<FillJob *>(ctx);
  for (size_t i = job.next.fetch_add(1); i < job.last; i = job.next.fetch_add(1)) {
    const SynthItem &item = (*job.items)[i];
    const SynthTensor &t = (*job.tensors)[item.tensor];
    if (item.begin > item.gapStart)
      std::memset(job.out + (item.gapStart - job.base), 0, item.begin - item.gapStart);
    synth::fillBlock(t.init, job.seed, t.hash, t.elements, item.block, t.generated, t.stored,
                     job.out + (item.begin - job.base));
  }
}

/// Threads that fill synthesized weights: $SSMC_FILL_THREADS, else every
/// hardware thread.
int fillThreads() {
  if (const char *env = std::getenv("SSMC_FILL_THREADS")) {
    char *end = nullptr;
    long v = std::strtol(env, &end, 10);
    if (*env && !*end && v > 0)
      return static_cast<int>(std::min<long>(v, 1024));
  }
  unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(std::min(hw, 1024u));
}

/// Host bytes the fill of a CUDA artifact's weights goes through per upload.
constexpr uint64_t kSynthUploadChunk = uint64_t(256) << 20;
} // namespace

bool Model::synthesizeWeights(std::string &error) {
  auto start = std::chrono::steady_clock::now();
  const Manifest &m = manifest();
  const uint64_t sectionBytes = m.synthetic.sectionBytes;
  // The fill plan: per weight its distribution, per block of it an item, in
  // section order (the validated manifest keeps weights in the section;
  // overlapping ones would be filled twice, so they are refused).
  std::vector<SynthTensor> tensors;
  std::vector<size_t> order(m.weights.size());
  for (size_t i = 0; i < order.size(); ++i)
    order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return m.weights[a].offset < m.weights[b].offset; });
  std::vector<SynthItem> items;
  uint64_t previousEnd = 0;
  const WeightSpec *previous = nullptr;
  for (size_t index : order) {
    const WeightSpec &w = m.weights[index];
    SynthTensor t;
    synth::Distribution kind;
    if (!synth::parseDistribution(w.init.distribution, kind) ||
        !synth::parseElement(w.init.generatedDtype, t.generated) ||
        !synth::parseElement(w.dtype, t.stored)) {
      error = "weight '" + w.name + "' cannot be synthesized";
      return false;
    }
    t.init = {kind, w.init.lo, w.init.hi};
    t.hash = synth::nameHash(w.name);
    t.elements = static_cast<int64_t>(w.bytes / synth::elementBytes(t.stored));
    if (w.bytes == 0)
      continue;
    if (previous && w.offset < previousEnd) {
      error = "synthesized weights '" + previous->name + "' and '" + w.name + "' overlap";
      return false;
    }
    uint32_t tensorIndex = static_cast<uint32_t>(tensors.size());
    tensors.push_back(t);
    const uint64_t size = synth::elementBytes(t.stored);
    for (int64_t b = 0, blocks = synth::numBlocks(t.elements); b < blocks; ++b) {
      SynthItem item;
      item.tensor = tensorIndex;
      item.block = b;
      item.gapStart = previousEnd;
      item.begin = w.offset + static_cast<uint64_t>(b * synth::kBlockElements) * size;
      item.end = w.offset +
                 static_cast<uint64_t>(std::min(t.elements, (b + 1) * synth::kBlockElements)) * size;
      items.push_back(item);
      previousEnd = item.end;
    }
    previous = &w;
  }

  ThreadPool pool(fillThreads());
  auto fill = [&](size_t first, size_t last, uint64_t base, uint8_t *out) {
    FillJob job;
    job.tensors = &tensors;
    job.items = &items;
    job.seed = m.synthetic.seed;
    job.last = last;
    job.base = base;
    job.out = out;
    job.next.store(first);
    pool.parallelFor(pool.size(), fillWorker, &job);
  };

  if (!cuda) {
    // Host targets: the whole section, zeroed by the mapping.
    synthesized = static_cast<uint8_t *>(mapZeroed(sectionBytes));
    if (!synthesized && sectionBytes > 0) {
      error = "cannot allocate " + std::to_string(sectionBytes) +
              " bytes for the synthesized weights";
      return false;
    }
    synthesizedBytes = sectionBytes;
    adviseHugePages(synthesized, sectionBytes);
    fill(0, items.size(), 0, synthesized);
  } else {
    // CUDA: piece by piece through one bounded host buffer, each piece
    // uploaded when filled; the bytes after the last block are zeroed there.
    uint64_t stagingBytes = std::min(sectionBytes, kSynthUploadChunk);
    uint8_t *staging = static_cast<uint8_t *>(mapZeroed(stagingBytes));
    if (!staging && stagingBytes > 0) {
      error = "cannot allocate " + std::to_string(stagingBytes) +
              " bytes of host memory to synthesize the weights in";
      return false;
    }
    adviseHugePages(staging, stagingBytes);
    bool ok = true;
    uint64_t pieceStart = 0;
    for (size_t first = 0; ok && first < items.size();) {
      size_t last = first;
      while (last < items.size() && items[last].end - pieceStart <= stagingBytes)
        ++last;
      if (last == first) {
        error = "internal error: a block of " + std::to_string(items[first].end - pieceStart) +
                " bytes does not fit the upload buffer";
        ok = false;
        break;
      }
      fill(first, last, pieceStart, staging);
      uint64_t pieceEnd = items[last - 1].end;
      ok = cuda->upload(weightsOnDevice + pieceStart, staging, pieceEnd - pieceStart, error);
      first = last;
      pieceStart = pieceEnd;
    }
    if (ok && pieceStart < sectionBytes)
      ok = cuda->zero(weightsOnDevice + pieceStart, sectionBytes - pieceStart, error);
    unmapZeroed(staging, stagingBytes);
    if (!ok) {
      error = "writing synthesized weights to " + cuda->description() + ": " + error;
      return false;
    }
  }
  synthesisTime =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return true;
}

Model::~Model() {
  unmapZeroed(synthesized, synthesizedBytes);
  if (!cuda)
    return;
  std::string ignored;
  cuda->makeCurrent(ignored);
  // Modules the code section loaded belong to the context: unload them while
  // it lives (generated code's own destructor runs later, at dlclose).
  if (void *release = code.symbol("ssmc_cuda_release")) {
    void (*fn)(const ssmc_device *);
    std::memcpy(&fn, &release, sizeof(release));
    ssmc_device device{};
    device.cuda = cuda->api();
    fn(&device);
  }
  cuda->release(weightsOnDevice);
}

//===----------------------------------------------------------------------===//
// Thread pool
//===----------------------------------------------------------------------===//

// Set while a thread runs a parallel_for body: nested calls then run serially
// instead of deadlocking on the pool.
static thread_local bool insideParallelBody = false;

ThreadPool::ThreadPool(int numThreads) : numThreads(std::max(1, numThreads)) {
  for (int i = 1; i < this->numThreads; ++i)
    workers.emplace_back([this, i] { workerLoop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex);
    stopping = true;
  }
  wake.notify_all();
  for (std::thread &t : workers)
    t.join();
}

/// [begin, end) of chunk `c` when `n` items are split into `chunks`.
static void chunkRange(int64_t n, int64_t chunks, int64_t c, int64_t &begin,
                       int64_t &end) {
  int64_t base = n / chunks, extra = n % chunks;
  begin = c * base + std::min(c, extra);
  end = begin + base + (c < extra ? 1 : 0);
}

void ThreadPool::workerLoop(int index) {
  uint64_t seen = 0;
  while (true) {
    int64_t n;
    ssmc_parallel_body body;
    void *ctx;
    {
      std::unique_lock<std::mutex> lock(mutex);
      wake.wait(lock, [&] { return stopping || generation != seen; });
      if (stopping)
        return;
      seen = generation;
      n = jobN;
      body = jobBody;
      ctx = jobCtx;
    }
    int64_t chunks = std::min<int64_t>(numThreads, n);
    if (index >= chunks)
      continue;
    int64_t begin, end;
    chunkRange(n, chunks, index, begin, end);
    insideParallelBody = true;
    body(ctx, begin, end);
    insideParallelBody = false;
    std::lock_guard<std::mutex> lock(mutex);
    if (--pending == 0)
      done.notify_one();
  }
}

void ThreadPool::parallelFor(int64_t n, ssmc_parallel_body body, void *ctx) {
  if (n <= 0 || !body)
    return;
  if (numThreads <= 1 || n == 1 || insideParallelBody) {
    body(ctx, 0, n);
    return;
  }
  std::lock_guard<std::mutex> callLock(callMutex);
  int64_t chunks = std::min<int64_t>(numThreads, n);
  {
    std::lock_guard<std::mutex> lock(mutex);
    jobN = n;
    jobBody = body;
    jobCtx = ctx;
    pending = static_cast<int>(chunks - 1);
    ++generation;
  }
  wake.notify_all();
  int64_t begin, end;
  chunkRange(n, chunks, 0, begin, end);
  insideParallelBody = true;
  body(ctx, begin, end);
  insideParallelBody = false;
  std::unique_lock<std::mutex> lock(mutex);
  done.wait(lock, [&] { return pending == 0; });
}

void ThreadPool::parallelForThunk(void *pool, int64_t n,
                                  ssmc_parallel_body body, void *ctx) {
  static_cast<ThreadPool *>(pool)->parallelFor(n, body, ctx);
}

//===----------------------------------------------------------------------===//
// Session
//===----------------------------------------------------------------------===//

/// a * b, false on overflow.
static bool mulChecked(uint64_t a, uint64_t b, uint64_t &out) {
  if (a != 0 && b > UINT64_MAX / a)
    return false;
  out = a * b;
  return true;
}

namespace {
/// Layout of a saved slot state: this header, then each state's row.
struct SavedStateHeader {
  uint32_t magic;
  uint32_t layoutCrc;
  int64_t position;
  uint64_t totalBytes;
  uint64_t reserved;
};
constexpr uint32_t kSavedStateMagic = 0x534d5353; // "SSMS"
} // namespace

std::unique_ptr<Session> Session::create(std::shared_ptr<Model> model,
                                         int64_t batchCapacity,
                                         int64_t maxContext, int numThreads,
                                         std::string &error) {
  if (!model) {
    error = "no model";
    return nullptr;
  }
  if (batchCapacity < 1 || batchCapacity > (1 << 20)) {
    error = "batch capacity " + std::to_string(batchCapacity) +
            " is outside [1, 1048576]";
    return nullptr;
  }
  if (maxContext < 1 || maxContext > INT32_MAX) {
    error = "max context " + std::to_string(maxContext) +
            " is outside [1, 2147483647]";
    return nullptr;
  }
  if (numThreads <= 0) {
    unsigned hw = std::thread::hardware_concurrency();
    numThreads = hw == 0 ? 1 : static_cast<int>(hw);
  }
  numThreads = std::min(numThreads, 1024);

  std::unique_ptr<Session> session(new Session());
  session->ownerModel = model;
  session->capacity = batchCapacity;
  session->contextLimit = maxContext;
  session->cuda = model->cudaDevice();
  if (session->cuda) {
    if (!session->cuda->makeCurrent(error) ||
        !session->cuda->createStream(session->stream, error))
      return nullptr;
    session->deviceError.assign(1024, '\0');
    session->device.cuda = session->cuda->api();
    session->device.stream = session->stream;
    session->device.error = session->deviceError.data();
    session->device.error_bytes = session->deviceError.size();
    session->device.gemm = vendorGemm();
  }
  for (const StateSpec &spec : model->manifest().states) {
    uint64_t tokenElements = 0, rowBytes = 0, bufferBytes = 0;
    bool ok = mulChecked(spec.perTokenElements,
                         spec.growsWithContext ? maxContext : 0,
                         tokenElements) &&
              tokenElements <= UINT64_MAX - spec.perSequenceElements &&
              mulChecked(tokenElements + spec.perSequenceElements,
                         elementTypeBytes(spec.dtype), rowBytes) &&
              mulChecked(rowBytes, batchCapacity, bufferBytes) &&
              bufferBytes < (uint64_t(1) << 48);
    if (!ok) {
      error = "state '" + spec.name +
              "' would be too large for this batch capacity and context";
      return nullptr;
    }
    std::string why;
    void *buffer = session->allocateState(bufferBytes, why);
    if (!buffer) {
      error = "cannot allocate " + std::to_string(bufferBytes) +
              " bytes for state '" + spec.name + "'" + (why.empty() ? "" : ": " + why);
      return nullptr;
    }
    session->stateBuffers.push_back(buffer);
    session->stateRowBytes.push_back(rowBytes);
    session->stateBufferBytes.push_back(bufferBytes);
  }
  session->positions.assign(batchCapacity, 0);
  session->pool.reset(new ThreadPool(numThreads));
  session->parallel.parallel_for = &ThreadPool::parallelForThunk;
  session->parallel.pool = session->pool.get();
  session->parallel.num_threads = session->pool->size();
  return session;
}

Session::~Session() {
  for (size_t i = 0; i < stateBuffers.size(); ++i)
    releaseState(stateBuffers[i], stateBufferBytes[i]);
  unmapZeroed(scratch, scratchBytes);
  if (cuda)
    cuda->destroyStream(stream);
}

void *Session::allocateState(uint64_t bytes, std::string &error) {
  if (!cuda)
    return mapZeroed(bytes);
  uint64_t ptr = 0;
  if (!cuda->allocate(bytes, ptr, error))
    return nullptr;
  if (!cuda->zero(ptr, bytes, error)) {
    cuda->release(ptr);
    return nullptr;
  }
  return reinterpret_cast<void *>(static_cast<uintptr_t>(ptr));
}

void Session::releaseState(void *buffer, uint64_t bytes) {
  if (!cuda) {
    unmapZeroed(buffer, bytes);
    return;
  }
  std::string ignored;
  cuda->makeCurrent(ignored);
  cuda->release(reinterpret_cast<uintptr_t>(buffer));
}

bool Session::copyStateOut(void *dst, size_t buffer, uint64_t offset, uint64_t bytes) {
  if (!cuda) {
    std::memcpy(dst, static_cast<const uint8_t *>(stateBuffers[buffer]) + offset, bytes);
    return true;
  }
  std::string error;
  if (cuda->makeCurrent(error) &&
      cuda->download(dst, reinterpret_cast<uintptr_t>(stateBuffers[buffer]) + offset, bytes,
                     error))
    return true;
  errorMessage = "reading state from " + cuda->description() + ": " + error;
  return false;
}

bool Session::copyStateIn(size_t buffer, uint64_t offset, const void *src, uint64_t bytes) {
  if (!cuda) {
    std::memcpy(static_cast<uint8_t *>(stateBuffers[buffer]) + offset, src, bytes);
    return true;
  }
  std::string error;
  if (cuda->makeCurrent(error) &&
      cuda->upload(reinterpret_cast<uintptr_t>(stateBuffers[buffer]) + offset, src, bytes,
                   error))
    return true;
  errorMessage = "writing state to " + cuda->description() + ": " + error;
  return false;
}

bool Session::zeroState(size_t buffer, uint64_t offset, uint64_t bytes) {
  if (!cuda) {
    std::memset(static_cast<uint8_t *>(stateBuffers[buffer]) + offset, 0, bytes);
    return true;
  }
  std::string error;
  if (cuda->makeCurrent(error) &&
      cuda->zero(reinterpret_cast<uintptr_t>(stateBuffers[buffer]) + offset, bytes, error))
    return true;
  errorMessage = "clearing state on " + cuda->description() + ": " + error;
  return false;
}

Status Session::fail(Status status, std::string message) {
  errorMessage = std::move(message);
  return status;
}

Status Session::checkSlots(int32_t n, const int32_t *slots) {
  if (n < 1)
    return fail(Status::InvalidArgument,
                "number of sequences must be at least 1, got " +
                    std::to_string(n));
  if (n > capacity)
    return fail(Status::CapacityExceeded,
                "batch of " + std::to_string(n) +
                    " sequences exceeds the session's capacity of " +
                    std::to_string(capacity));
  if (!slots)
    return fail(Status::InvalidArgument, "slots is null");
  std::vector<bool> used(capacity, false);
  for (int32_t i = 0; i < n; ++i) {
    if (slots[i] < 0 || slots[i] >= capacity)
      return fail(Status::OutOfRange,
                  "slot " + std::to_string(slots[i]) + " (sequence " +
                      std::to_string(i) + ") is outside [0, " +
                      std::to_string(capacity) + ")");
    if (used[slots[i]])
      return fail(Status::InvalidArgument,
                  "slot " + std::to_string(slots[i]) +
                      " appears twice in one call");
    used[slots[i]] = true;
  }
  return Status::Ok;
}

bool Session::ensureScratch(uint64_t bytes) {
  if (bytes <= scratchBytes)
    return true;
  void *grown = mapZeroed(bytes);
  if (!grown)
    return false;
  unmapZeroed(scratch, scratchBytes);
  scratch = grown;
  scratchBytes = bytes;
  return true;
}

Status Session::prefill(int32_t n, const int32_t *slots,
                        const int32_t *const *tokens, const int32_t *lengths,
                        float *logits) {
  Status status = checkSlots(n, slots);
  if (status != Status::Ok)
    return status;
  if (!tokens || !lengths || !logits)
    return fail(Status::InvalidArgument, "tokens, lengths or logits is null");
  const int64_t vocab = model().manifest().vocabSize;
  int64_t seqLen = 0;
  for (int32_t i = 0; i < n; ++i) {
    if (lengths[i] < 1)
      return fail(Status::InvalidArgument,
                  "sequence " + std::to_string(i) + " has length " +
                      std::to_string(lengths[i]) + "; at least 1 is needed");
    if (!tokens[i])
      return fail(Status::InvalidArgument,
                  "tokens of sequence " + std::to_string(i) + " is null");
    int64_t position = positions[slots[i]];
    if (position + lengths[i] > contextLimit)
      return fail(Status::CapacityExceeded,
                  "slot " + std::to_string(slots[i]) + " holds " +
                      std::to_string(position) + " tokens; " +
                      std::to_string(lengths[i]) +
                      " more exceed the max context of " +
                      std::to_string(contextLimit));
    for (int32_t t = 0; t < lengths[i]; ++t)
      if (tokens[i][t] < 0 || tokens[i][t] >= vocab)
        return fail(Status::OutOfRange,
                    "token " + std::to_string(tokens[i][t]) + " (sequence " +
                        std::to_string(i) + ", index " + std::to_string(t) +
                        ") is outside the vocabulary [0, " +
                        std::to_string(vocab) + ")");
    seqLen = std::max<int64_t>(seqLen, lengths[i]);
  }
  // A prompt split in pieces gives the same state and logits as one call
  // (the state carries across calls), so long prefills run in pieces of at
  // most max_prefill_tokens batch-tokens (the compiler's choice for the
  // target, in the manifest): the generated code's intermediate buffers
  // grow with batch x length, and this bounds them.
  const int64_t maxTokens = model().manifest().maxPrefillTokens > 0
                                ? model().manifest().maxPrefillTokens
                                : kMaxPrefillTokens;
  const int64_t piece = std::max<int64_t>(1, maxTokens / std::max<int32_t>(n, 1));
  std::vector<int32_t> pieceSlots, pieceLengths, pieceIndex;
  std::vector<float> pieceLogits;
  for (int64_t start = 0; start < seqLen; start += piece) {
    pieceSlots.clear();
    pieceLengths.clear();
    pieceIndex.clear();
    int64_t pieceLen = 0;
    for (int32_t i = 0; i < n; ++i) {
      if (lengths[i] <= start)
        continue;
      int32_t len = static_cast<int32_t>(std::min<int64_t>(lengths[i] - start, piece));
      pieceSlots.push_back(slots[i]);
      pieceLengths.push_back(len);
      pieceIndex.push_back(i);
      pieceLen = std::max<int64_t>(pieceLen, len);
    }
    int32_t m = static_cast<int32_t>(pieceIndex.size());
    // Ragged prompts become one zero-padded [m][pieceLen] rectangle.
    tokenRect.assign(static_cast<size_t>(m) * pieceLen, 0);
    for (int32_t j = 0; j < m; ++j)
      std::memcpy(&tokenRect[static_cast<size_t>(j) * pieceLen], tokens[pieceIndex[j]] + start,
                  sizeof(int32_t) * pieceLengths[j]);
    lengthBuf = pieceLengths;
    bool whole = m == n && start == 0 && pieceLen == seqLen;
    float *out = logits;
    if (!whole) {
      pieceLogits.resize(static_cast<size_t>(m) * vocab);
      out = pieceLogits.data();
    }
    Status st = run(model().prefillEntry(), "prefill", m, pieceSlots.data(), pieceLen,
                    lengthBuf.data(), out);
    if (st != Status::Ok)
      return st;
    // The piece holding a sequence's last token leaves its logits.
    if (!whole)
      for (int32_t j = 0; j < m; ++j)
        std::memcpy(logits + static_cast<size_t>(pieceIndex[j]) * vocab,
                    pieceLogits.data() + static_cast<size_t>(j) * vocab, sizeof(float) * vocab);
  }
  return Status::Ok;
}

Status Session::decode(int32_t n, const int32_t *slots, const int32_t *tokens,
                       float *logits) {
  Status status = checkSlots(n, slots);
  if (status != Status::Ok)
    return status;
  if (!tokens || !logits)
    return fail(Status::InvalidArgument, "tokens or logits is null");
  const int64_t vocab = model().manifest().vocabSize;
  for (int32_t i = 0; i < n; ++i) {
    if (tokens[i] < 0 || tokens[i] >= vocab)
      return fail(Status::OutOfRange,
                  "token " + std::to_string(tokens[i]) + " (sequence " +
                      std::to_string(i) + ") is outside the vocabulary [0, " +
                      std::to_string(vocab) + ")");
    if (positions[slots[i]] + 1 > contextLimit)
      return fail(Status::CapacityExceeded,
                  "slot " + std::to_string(slots[i]) +
                      " is full: it holds the max context of " +
                      std::to_string(contextLimit) + " tokens");
  }
  tokenRect.assign(tokens, tokens + n);
  lengthBuf.assign(n, 1);
  return run(model().decodeEntry(), "decode", n, slots, 1, lengthBuf.data(), logits);
}

Status Session::run(ssmc_entry_fn entry, const char *entryName, int32_t n, const int32_t *slots,
                    int64_t seqLen, const int32_t *lengths, float *logits) {
  const Manifest &manifest = model().manifest();
  uint64_t tokenCount = 0, scratchNeeded = 0;
  if (!mulChecked(static_cast<uint64_t>(n), static_cast<uint64_t>(seqLen),
                  tokenCount) ||
      !mulChecked(tokenCount, manifest.scratchPerToken, scratchNeeded) ||
      scratchNeeded > UINT64_MAX - manifest.scratchFixed)
    return fail(Status::OutOfMemory, "scratch size overflows");
  scratchNeeded += manifest.scratchFixed;
  if (!ensureScratch(scratchNeeded))
    return fail(Status::OutOfMemory, "cannot allocate " +
                                         std::to_string(scratchNeeded) +
                                         " bytes of scratch memory");
  slotBuf.assign(slots, slots + n);
  positionBuf.resize(n);
  for (int32_t i = 0; i < n; ++i)
    positionBuf[i] = positions[slots[i]];

  ssmc_call call;
  std::memset(&call, 0, sizeof(call));
  call.weights = model().hostWeights();
  call.states = stateBuffers.data();
  call.batch_capacity = capacity;
  call.max_context = contextLimit;
  call.batch = n;
  call.seq_len = seqLen;
  call.tokens = tokenRect.data();
  call.lengths = lengths;
  call.positions = positionBuf.data();
  call.slots = slotBuf.data();
  call.logits = logits;
  call.scratch = scratch;
  call.scratch_bytes = scratchBytes;
  call.parallel = &parallel;
  if (cuda) {
    std::string error;
    if (!cuda->makeCurrent(error))
      return fail(Status::KernelFailed, error);
    call.weights = reinterpret_cast<const uint8_t *>(
        static_cast<uintptr_t>(model().deviceWeights()));
    call.device = &device;
    deviceError[0] = '\0';
  }
  int32_t rc = entry(&call);
  if (rc != 0) {
    std::string detail = cuda && deviceError[0] ? std::string(" (") + deviceError.data() + ")" : "";
    return fail(Status::KernelFailed,
                std::string(entryName) + " entry point failed with code " + std::to_string(rc) +
                    detail +
                    "; the states of the slots in this call are undefined "
                    "until reset or restored");
  }
  for (int32_t i = 0; i < n; ++i)
    positions[slots[i]] += lengths[i];
  errorMessage.clear();
  return Status::Ok;
}

static uint32_t layoutChecksum(const std::vector<uint64_t> &rowBytes) {
  uint32_t crc = 0;
  for (uint64_t bytes : rowBytes)
    crc = crc32(&bytes, sizeof(bytes), crc);
  return crc;
}

uint64_t Session::stateSize() const {
  uint64_t total = sizeof(SavedStateHeader);
  for (uint64_t bytes : stateRowBytes)
    total += bytes;
  return total;
}

int64_t Session::position(int32_t slot) const {
  if (slot < 0 || slot >= capacity)
    return -1;
  return positions[slot];
}

Status Session::saveState(int32_t slot, void *buffer) {
  if (slot < 0 || slot >= capacity)
    return fail(Status::OutOfRange, "slot " + std::to_string(slot) +
                                        " is outside [0, " +
                                        std::to_string(capacity) + ")");
  if (!buffer)
    return fail(Status::InvalidArgument, "state buffer is null");
  SavedStateHeader header{};
  header.magic = kSavedStateMagic;
  header.layoutCrc = layoutChecksum(stateRowBytes);
  header.position = positions[slot];
  header.totalBytes = stateSize();
  uint8_t *out = static_cast<uint8_t *>(buffer);
  std::memcpy(out, &header, sizeof(header));
  out += sizeof(header);
  for (size_t s = 0; s < stateBuffers.size(); ++s) {
    if (!copyStateOut(out, s, stateRowBytes[s] * slot, stateRowBytes[s]))
      return Status::KernelFailed;
    out += stateRowBytes[s];
  }
  return Status::Ok;
}

Status Session::restoreState(int32_t slot, const void *buffer) {
  if (slot < 0 || slot >= capacity)
    return fail(Status::OutOfRange, "slot " + std::to_string(slot) +
                                        " is outside [0, " +
                                        std::to_string(capacity) + ")");
  if (!buffer)
    return fail(Status::InvalidArgument, "state buffer is null");
  SavedStateHeader header;
  std::memcpy(&header, buffer, sizeof(header));
  if (header.magic != kSavedStateMagic || header.totalBytes != stateSize() ||
      header.layoutCrc != layoutChecksum(stateRowBytes))
    return fail(Status::InvalidArgument,
                "buffer does not hold a state saved from a session with this "
                "model, batch layout and max context");
  if (header.position < 0 || header.position > contextLimit)
    return fail(Status::InvalidArgument,
                "saved position " + std::to_string(header.position) +
                    " is outside [0, " + std::to_string(contextLimit) + "]");
  const uint8_t *in = static_cast<const uint8_t *>(buffer) + sizeof(header);
  for (size_t s = 0; s < stateBuffers.size(); ++s) {
    if (!copyStateIn(s, stateRowBytes[s] * slot, in, stateRowBytes[s]))
      return Status::KernelFailed;
    in += stateRowBytes[s];
  }
  positions[slot] = header.position;
  return Status::Ok;
}

Status Session::resetState(int32_t slot) {
  if (slot < 0 || slot >= capacity)
    return fail(Status::OutOfRange, "slot " + std::to_string(slot) +
                                        " is outside [0, " +
                                        std::to_string(capacity) + ")");
  for (size_t s = 0; s < stateBuffers.size(); ++s)
    if (!zeroState(s, stateRowBytes[s] * slot, stateRowBytes[s]))
      return Status::KernelFailed;
  positions[slot] = 0;
  return Status::Ok;
}

Status Session::setPosition(int32_t slot, int64_t position) {
  if (slot < 0 || slot >= capacity)
    return fail(Status::OutOfRange, "slot " + std::to_string(slot) +
                                        " is outside [0, " +
                                        std::to_string(capacity) + ")");
  if (position < 0 || position > contextLimit)
    return fail(Status::InvalidArgument,
                "position " + std::to_string(position) + " is outside [0, " +
                    std::to_string(contextLimit) + "]");
  positions[slot] = position;
  return Status::Ok;
}

} // namespace rt
} // namespace ssmc
