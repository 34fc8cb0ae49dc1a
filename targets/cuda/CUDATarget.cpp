//===- CUDATarget.cpp - Compile an imported model for NVIDIA GPUs ---------===//

#include "targets/cuda/CUDATarget.h"

#include "passes/IRQueries.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Bitcode/BitcodeReader.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

#include "targets/cuda/AbiText.h"

#include <cstdlib>
#include <cstring>

using namespace mlir;
using namespace ssmc::cuda;

namespace {
llvm::Error makeError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

/// From import to NVVM-dialect kernels and host code with gpu.launch_func.
/// The chunked scan takes every whole chunk in the same ops (unless
/// scanAllChunks is off). Bufferization as on the CPU (after giving every
/// accumulator its own zero fill; states returned in place; a result copied
/// into a bigger buffer written there directly); then projections become
/// warp kernels or vendor GEMM calls (with their fill and elementwise
/// consumer folded in; the GEMM stores rounded products), batched
/// contractions (the chunked scan's) shared-memory tiled kernels (on tensor
/// cores for half-precision models, whose cheap elementwise producers are
/// fused into them), cumulative sums warp scans, other sum reductions block-
/// or warp-per-output kernels (with an in-place producer and an elementwise
/// consumer folded in) or register-accumulated loops, and every other linalg
/// op one kernel (parallel dimensions collapsed and split into blocks of
/// `block-size` threads). Constants are sunk into the kernels before
/// outlining. Prefill GEMMs go to the vendor library.
std::string kernelPipeline(const CUDATargetDesc &target, bool halfModel) {
  return std::string("ssm-decompose-model, convert-ssm-to-linalg{scan-all-chunks-at-once=") +
         (target.scanAllChunks ? "true" : "false") + "}, ssm-bind-weights, canonicalize, cse, "
         "ssm-fuse-elementwise{into-batched-contractions=" + (halfModel ? "true" : "false") +
         "}, canonicalize, ssm-privatize-fills, "
         "eliminate-empty-tensors, one-shot-bufferize{bufferize-function-boundaries "
         "function-boundary-type-conversion=identity-layout-map}, "
         "buffer-deallocation-pipeline, convert-bufferization-to-memref, "
         "ssm-elide-result-copies, "
         "func.func(ssm-return-updated-arguments), "
         "ssm-gpu-projections, ssm-gpu-tile-contractions, ssm-gpu-prefix-sums, ssm-gpu-block-reductions, ssm-gpu-parallel-dims-first, "
         "ssm-gpu-copy-to-linalg, ssm-lower-reductions, convert-linalg-to-parallel-loops, canonicalize, "
         "ssm-gpu-tile-parallel-loops{block-size=" +
         std::to_string(target.blockSize) +
         "}, func.func(gpu-map-parallel-loops), convert-parallel-loops-to-gpu, canonicalize, "
         "ssm-gpu-host-device-memory, gpu-launch-sink-index-computations, gpu-kernel-outlining, ssm-gpu-merge-modules, gpu.module(ssm-gpu-kernel-occupancy), "
         "func.func(gpu-async-region), canonicalize, expand-strided-metadata, lower-affine, "
         "convert-scf-to-cf, arith-expand{include-bf16=true}, "
         "nvvm-attach-target{chip=" +
         target.chip +
         " O=3}, "
         "gpu.module(ssm-gpu-lower-all-reduce, ssm-gpu-expand-math, convert-gpu-to-nvvm, ssm-gpu-align-workgroup-memory, convert-vector-to-llvm, "
         "reconcile-unrealized-casts)";
}

/// The host code after the kernels became a gpu.binary: LLVM dialect calling
/// mgpu* functions (defined by the launch code).
constexpr const char *kHostPipeline =
    "convert-arith-to-llvm, finalize-memref-to-llvm, convert-cf-to-llvm, gpu-to-llvm, "
    "convert-func-to-llvm, convert-ub-to-llvm, reconcile-unrealized-casts";

llvm::Expected<gpu::GPUModuleOp> kernelModule(ModuleOp module) {
  auto modules = llvm::to_vector(module.getOps<gpu::GPUModuleOp>());
  if (modules.size() != 1)
    return makeError("internal error: expected one kernel module after lowering, found " +
                     llvm::Twine(modules.size()));
  return modules.front();
}

/// Serializes the kernel module of a copy of `module` with
/// gpu-module-to-binary in `format` and returns the object's bytes.
llvm::Expected<std::string> serializeKernels(ModuleOp module, llvm::StringRef format) {
  if (auto gm = kernelModule(module); !gm)
    return gm.takeError();
  OwningOpRef<ModuleOp> copy(cast<ModuleOp>(module->clone()));
  std::string pipeline = ("gpu-module-to-binary{format=" + format + "}").str();
  if (llvm::Error e = ssmc::cpu::runPipeline(*copy, pipeline, {}))
    return std::move(e);
  auto binaries = llvm::to_vector(copy->getOps<gpu::BinaryOp>());
  if (binaries.size() != 1 || binaries.front().getObjects().size() != 1)
    return makeError("internal error: gpu-module-to-binary did not produce one object");
  auto object = cast<gpu::ObjectAttr>(binaries.front().getObjects()[0]);
  return object.getObject().str();
}

/// Runs `program` with `args`; stdout and stderr go to `log`.
llvm::Error runTool(llvm::StringRef program, llvm::ArrayRef<llvm::StringRef> args,
                    llvm::StringRef logPath, std::string &log) {
  std::optional<llvm::StringRef> redirects[] = {std::nullopt, logPath, logPath};
  std::string execError;
  int rc = llvm::sys::ExecuteAndWait(program, args, std::nullopt, redirects, 0, 0, &execError);
  if (auto buf = llvm::MemoryBuffer::getFile(logPath))
    log = (*buf)->getBuffer().str();
  if (rc != 0)
    return makeError(program + " failed" + (execError.empty() ? "" : ": " + execError) + "\n" +
                     log);
  return llvm::Error::success();
}

/// ptxas to use: $SSMC_PTXAS ("none" = do not use one), $CUDA_HOME/bin,
/// /usr/local/cuda/bin, then PATH.
std::string findPtxas() {
  if (const char *env = std::getenv("SSMC_PTXAS"))
    return llvm::StringRef(env) == "none" ? "" : env;
  llvm::SmallVector<std::string> candidates;
  if (const char *home = std::getenv("CUDA_HOME"))
    candidates.push_back(std::string(home) + "/bin/ptxas");
  candidates.push_back("/usr/local/cuda/bin/ptxas");
  for (const std::string &c : candidates)
    if (llvm::sys::fs::can_execute(c))
      return c;
  if (auto found = llvm::sys::findProgramByName("ptxas"))
    return *found;
  return "";
}
} // namespace

llvm::Expected<CUDATargetDesc> ssmc::cuda::getCUDATarget(llvm::StringRef sm) {
  llvm::StringRef digits = sm;
  digits.consume_front("sm_");
  CUDATargetDesc desc;
  if (digits == "80")
    desc.sm = 80;
  else if (digits == "90")
    desc.sm = 90;
  else
    return makeError("unsupported --sm '" + sm + "' (expected 80 or 90)");
  desc.chip = "sm_" + std::to_string(desc.sm);
  desc.artifactTarget = "cuda-sm" + std::to_string(desc.sm);
  desc.ptxas = findPtxas();
#if defined(__x86_64__)
  // The host half runs on the GPU machine's CPU: baseline x86-64, no
  // features required of it.
  desc.host.name = "cuda-host";
  desc.host.triple = "x86_64-unknown-linux-gnu";
  desc.host.cpu = "x86-64";
  desc.host.artifactTarget = desc.artifactTarget;
#else
  return makeError("--target cuda emits x86-64 host code and needs an x86-64 compiler host");
#endif
  return desc;
}

llvm::Error ssmc::cuda::lowerToKernels(ModuleOp module, const CUDATargetDesc &target,
                                       const cpu::CompileOptions &options) {
  MLIRContext *ctx = module.getContext();
  module.walk([&](func::FuncOp func) {
    if (func.getName() == "forward")
      func->setAttr(LLVM::LLVMDialect::getEmitCWrapperAttrName(), UnitAttr::get(ctx));
  });
  CUDATargetDesc chosen = target;
  chosen.scanAllChunks = options.scanAllChunks.value_or(target.scanAllChunks);
  // Half-precision models get the scan's operands computed inside its
  // tensor-core sums (ssm-gpu-tile-contractions stages them once per tile);
  // float32 ones keep the CUDA-core sums, which would recompute them per
  // product.
  Type modelType = ssmc::modelElementType(module);
  bool halfModel = modelType && (modelType.isBF16() || modelType.isF16());
  if (llvm::Error e = cpu::runPipeline(module, kernelPipeline(chosen, halfModel), options))
    return e;
  if (auto gm = kernelModule(module); !gm)
    return gm.takeError();
  return llvm::Error::success();
}

llvm::Expected<std::string> ssmc::cuda::emitKernelLLVMIR(ModuleOp module,
                                                         const CUDATargetDesc &target) {
  auto bitcode = serializeKernels(module, "llvm");
  if (!bitcode)
    return bitcode.takeError();
  llvm::LLVMContext llvmContext;
  auto buffer = llvm::MemoryBuffer::getMemBuffer(*bitcode, "kernels", false);
  auto llvmModule = llvm::parseBitcodeFile(buffer->getMemBufferRef(), llvmContext);
  if (!llvmModule)
    return makeError("internal error: the kernel bitcode does not parse: " +
                     llvm::toString(llvmModule.takeError()));
  std::string text;
  llvm::raw_string_ostream os(text);
  (*llvmModule)->print(os, nullptr);
  return text;
}

llvm::Expected<std::string> ssmc::cuda::emitPTX(ModuleOp module, const CUDATargetDesc &target) {
  auto ptx = serializeKernels(module, "isa");
  if (!ptx)
    return ptx.takeError();
  // The object string may carry a terminating NUL for the JIT; text files do not.
  while (!ptx->empty() && ptx->back() == '\0')
    ptx->pop_back();
  return *ptx;
}

llvm::Expected<std::vector<char>> ssmc::cuda::assemblePTX(const std::string &ptx,
                                                          const CUDATargetDesc &target,
                                                          std::string *log) {
  if (target.ptxas.empty())
    return makeError("ptxas not found (set SSMC_PTXAS or CUDA_HOME)");
  llvm::SmallString<128> dir;
  if (std::error_code ec = llvm::sys::fs::createUniqueDirectory("ssmc-ptxas", dir))
    return makeError("cannot create a temporary directory: " + ec.message());
  auto path = [&](llvm::StringRef name) {
    llvm::SmallString<128> p(dir);
    llvm::sys::path::append(p, name);
    return std::string(p);
  };
  std::string input = path("kernels.ptx"), output = path("kernels.cubin"),
              logPath = path("ptxas.log");
  auto cleanup = [&] {
    for (const std::string &f : {input, output, logPath})
      llvm::sys::fs::remove(f);
    llvm::sys::fs::remove(dir);
  };
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(input, ec, llvm::sys::fs::OF_Text);
    if (ec)
      return cleanup(), makeError("cannot write " + input + ": " + ec.message());
    os << ptx;
  }
  std::string text;
  llvm::SmallVector<llvm::StringRef> args = {target.ptxas, "--gpu-name", target.chip, "-O3", "-v",
                                             input,        "-o",         output};
  if (llvm::Error e = runTool(target.ptxas, args, logPath, text))
    return cleanup(), std::move(e);
  if (log)
    *log = text;
  auto buf = llvm::MemoryBuffer::getFile(output, /*IsText=*/false);
  if (!buf)
    return cleanup(), makeError("ptxas wrote no " + output);
  std::vector<char> cubin((*buf)->getBufferStart(), (*buf)->getBufferEnd());
  cleanup();
  return cubin;
}

std::vector<char> ssmc::cuda::packDeviceImage(const std::string &ptx,
                                              const std::vector<char> &cubin) {
  uint32_t cubinBytes = static_cast<uint32_t>(cubin.size());
  uint32_t ptxBytes = static_cast<uint32_t>(ptx.size() + 1);
  std::vector<char> image(16 + cubin.size() + ptx.size() + 1, '\0');
  std::memcpy(image.data(), "SSMCUDA1", 8);
  for (int i = 0; i < 4; ++i) {
    image[8 + i] = static_cast<char>((cubinBytes >> (8 * i)) & 0xff);
    image[12 + i] = static_cast<char>((ptxBytes >> (8 * i)) & 0xff);
  }
  if (!cubin.empty())
    std::memcpy(image.data() + 16, cubin.data(), cubin.size());
  std::memcpy(image.data() + 16 + cubin.size(), ptx.data(), ptx.size());
  return image;
}

llvm::Error ssmc::cuda::lowerHost(ModuleOp module, const std::vector<char> &image,
                                  const cpu::CompileOptions &options) {
  auto gm = kernelModule(module);
  if (!gm)
    return gm.takeError();
  ArrayAttr targets = gm->getTargetsAttr();
  if (!targets || targets.size() != 1)
    return makeError("internal error: the kernel module has no single NVVM target");
  MLIRContext *ctx = module.getContext();
  auto object = gpu::ObjectAttr::get(ctx, targets[0], gpu::CompilationTarget::Binary,
                                     StringAttr::get(ctx, llvm::StringRef(image.data(), image.size())),
                                     nullptr, nullptr);
  OpBuilder b(*gm);
  gpu::BinaryOp::create(b, gm->getLoc(), gm->getName(), /*offloadingHandler=*/nullptr,
                        b.getArrayAttr({object}));
  gm->erase();
  return cpu::runPipeline(module, kHostPipeline, options);
}

llvm::Expected<std::vector<HostMirror>> ssmc::cuda::collectHostMirrors(ModuleOp module) {
  auto forward = module.lookupSymbol<func::FuncOp>("forward");
  if (!forward)
    return makeError("internal error: the lowered module has no @forward");
  std::vector<HostMirror> mirrors;
  for (unsigned i = 0; i < forward.getNumArguments(); ++i) {
    auto of = forward.getArgAttrOfType<IntegerAttr>(i, "ssmc.host_mirror_of");
    if (!of)
      continue;
    auto name = forward.getArgAttrOfType<StringAttr>(of.getInt(), "ssm.name");
    std::string field = !name                      ? ""
                        : name.getValue() == "ids" ? "tokens"
                        : name.getValue() == "lengths" || name.getValue() == "positions"
                            ? name.str()
                            : "";
    if (field.empty())
      return makeError("internal error: host code reads @forward argument #" +
                       llvm::Twine(of.getInt()) + ", which the launch code cannot mirror");
    mirrors.push_back({i, field});
  }
  return mirrors;
}

namespace {
/// C expression for the size of one state row in units of `unit` bytes per
/// element (constant, or scaled by max_context for a KV cache).
std::string rowExpr(const ssmc::cpu::StateArg &state, int64_t unit) {
  int64_t perRow = unit;
  for (int64_t d : state.shape)
    perRow *= d;
  std::string expr = std::to_string(perRow) + "ull";
  return state.growsWithContext ? "((uint64_t)c->max_context * " + expr + ")" : expr;
}

size_t stateRank(const ssmc::cpu::StateArg &state) {
  return state.shape.size() + 1 + (state.growsWithContext ? 1 : 0);
}

/// The mgpu* functions MLIR's host lowering calls, on the runtime's driver
/// table. Fixed text: the model-specific part is run_forward.
constexpr const char *kShim = R"c(
/* ---- the mgpu* functions of MLIR's host lowering, on the driver table ---- */
static _Thread_local const ssmc_device *ssmc_dev; /* device of the call in progress */
static _Thread_local int ssmc_failed;             /* a driver call failed: skip the rest */
static _Thread_local int ssmc_reported;           /* the first failure's message is written */

static void ssmc_fail_text(const char *message) {
  ssmc_failed = 1;
  if (ssmc_reported)
    return;
  ssmc_reported = 1;
  if (ssmc_dev && ssmc_dev->error && ssmc_dev->error_bytes)
    snprintf(ssmc_dev->error, (size_t)ssmc_dev->error_bytes, "%s", message);
}

static void ssmc_fail(const char *call, int32_t rc) {
  const char *name = 0, *text = 0;
  char message[512];
  if (ssmc_reported) {
    ssmc_failed = 1;
    return;
  }
  if (ssmc_dev->cuda->get_error_name(rc, &name) != 0 || !name)
    name = "unknown CUDA error";
  if (ssmc_dev->cuda->get_error_string(rc, &text) != 0 || !text)
    text = "";
  snprintf(message, sizeof message, "%s failed: %s (%d)%s%s", call, name, (int)rc,
           *text ? ": " : "", text);
  ssmc_fail_text(message);
}

#define SSMC_CHECK(expr, call)                                                 \
  do {                                                                         \
    int32_t rc_ = (expr);                                                      \
    if (rc_ != 0)                                                              \
      ssmc_fail(call, rc_);                                                    \
  } while (0)

/* A device image, loaded into the current context on first use (its global
   constructor runs at dlopen, before any context exists). */
typedef struct {
  const char *data;
  uint64_t bytes;
  void *module;
} ssmc_image;
static ssmc_image ssmc_images[8];
static int ssmc_image_count;
static pthread_mutex_t ssmc_image_lock = PTHREAD_MUTEX_INITIALIZER;

void *mgpuModuleLoad(void *data, size_t bytes) {
  if (ssmc_image_count == 8)
    return 0;
  ssmc_images[ssmc_image_count].data = (const char *)data;
  ssmc_images[ssmc_image_count].bytes = bytes;
  return &ssmc_images[ssmc_image_count++];
}

void *mgpuModuleLoadJIT(void *data, int opt_level) {
  (void)opt_level;
  return mgpuModuleLoad(data, 0);
}

/* Runs from a global destructor, when the context may be gone: the runtime
   unloads through ssmc_cuda_release instead. */
void mgpuModuleUnload(void *module) { (void)module; }

static int ssmc_load_image(ssmc_image *image) {
  uint32_t cubin = 0, ptx = 0;
  int32_t rc_cubin = 0, rc_ptx = 0;
  char message[768];
  if (image->module)
    return 1;
  if (image->bytes < 16 || memcmp(image->data, "SSMCUDA1", 8) != 0) {
    ssmc_fail_text("the device image in the code section is damaged");
    return 0;
  }
  memcpy(&cubin, image->data + 8, 4);
  memcpy(&ptx, image->data + 12, 4);
  if ((uint64_t)cubin + ptx + 16 > image->bytes) {
    ssmc_fail_text("the device image in the code section is damaged");
    return 0;
  }
  if (cubin != 0) {
    rc_cubin = ssmc_dev->cuda->module_load_data(&image->module, image->data + 16);
    if (rc_cubin == 0)
      return 1;
    image->module = 0;
  }
  if (ptx != 0) {
    rc_ptx = ssmc_dev->cuda->module_load_data(&image->module, image->data + 16 + cubin);
    if (rc_ptx == 0)
      return 1;
    image->module = 0;
  }
  if (rc_ptx != 0 && rc_cubin != 0) {
    const char *cubin_name = 0;
    if (ssmc_dev->cuda->get_error_name(rc_cubin, &cubin_name) != 0 || !cubin_name)
      cubin_name = "unknown CUDA error";
    snprintf(message, sizeof message,
             "cuModuleLoadData (PTX, after the cubin failed with %s)", cubin_name);
    ssmc_fail(message, rc_ptx);
  } else {
    ssmc_fail(cubin ? "cuModuleLoadData (cubin)" : "cuModuleLoadData (PTX)",
              cubin ? rc_cubin : rc_ptx);
  }
  return 0;
}

void *mgpuModuleGetFunction(void *module, const char *name) {
  ssmc_image *image = (ssmc_image *)module;
  void *function = 0;
  int loaded;
  if (ssmc_failed)
    return 0;
  if (!image) {
    ssmc_fail_text("too many device images in the code section");
    return 0;
  }
  pthread_mutex_lock(&ssmc_image_lock);
  loaded = ssmc_load_image(image);
  pthread_mutex_unlock(&ssmc_image_lock);
  if (!loaded)
    return 0;
  SSMC_CHECK(ssmc_dev->cuda->module_get_function(&function, image->module, name),
             "cuModuleGetFunction");
  return function;
}

/* Everything runs in order on the session's stream: streams and events of
   MLIR's async lowering all map to it, and waits need not block. */
void *mgpuStreamCreate(void) { return ssmc_dev ? ssmc_dev->stream : 0; }
void mgpuStreamDestroy(void *stream) { (void)stream; }
void mgpuStreamSynchronize(void *stream) { (void)stream; }
void mgpuStreamWaitEvent(void *stream, void *event) { (void)stream; (void)event; }
void *mgpuEventCreate(void) { return (void *)1; }
void mgpuEventDestroy(void *event) { (void)event; }
void mgpuEventSynchronize(void *event) { (void)event; }
void mgpuEventRecord(void *event, void *stream) { (void)event; (void)stream; }
void mgpuSetDefaultDevice(int32_t device) { (void)device; }

void mgpuLaunchKernel(void *function, intptr_t gx, intptr_t gy, intptr_t gz, intptr_t bx,
                      intptr_t by, intptr_t bz, int32_t shared_bytes, void *stream,
                      void **params, void **extra, size_t param_count) {
  (void)stream;
  (void)param_count;
  if (ssmc_failed || !function)
    return;
  if (gx <= 0 || gy <= 0 || gz <= 0)
    return; /* an empty iteration space */
  if (gx > 2147483647 || gy > 65535 || gz > 65535 || bx * by * bz > 1024) {
    ssmc_fail_text("a kernel launch exceeds the grid or block size limits");
    return;
  }
  SSMC_CHECK(ssmc_dev->cuda->launch_kernel(function, (uint32_t)gx, (uint32_t)gy, (uint32_t)gz,
                                           (uint32_t)bx, (uint32_t)by, (uint32_t)bz,
                                           (uint32_t)shared_bytes, ssmc_dev->stream, params,
                                           extra),
             "cuLaunchKernel");
}

void *mgpuMemAlloc(uint64_t bytes, void *stream, int8_t host_shared) {
  uint64_t ptr = 0;
  (void)stream;
  if (ssmc_failed || bytes == 0)
    return 0;
  if (host_shared) {
    ssmc_fail_text("host-shared device allocations are not supported");
    return 0;
  }
  SSMC_CHECK(ssmc_dev->cuda->mem_alloc_async(&ptr, bytes, ssmc_dev->stream), "cuMemAllocAsync");
  return (void *)(uintptr_t)ptr;
}

void mgpuMemFree(void *ptr, void *stream) {
  (void)stream;
  if (ptr)
    SSMC_CHECK(ssmc_dev->cuda->mem_free_async((uint64_t)(uintptr_t)ptr, ssmc_dev->stream),
               "cuMemFreeAsync");
}

void mgpuMemcpy(void *dst, void *src, size_t bytes, void *stream) {
  (void)stream;
  if (!ssmc_failed && bytes)
    SSMC_CHECK(ssmc_dev->cuda->memcpy_async((uint64_t)(uintptr_t)dst, (uint64_t)(uintptr_t)src,
                                            bytes, ssmc_dev->stream),
               "cuMemcpyAsync");
}

void mgpuMemset32(void *dst, uint32_t value, size_t count, void *stream) {
  (void)stream;
  if (!ssmc_failed && count)
    SSMC_CHECK(ssmc_dev->cuda->memset_d32_async((uint64_t)(uintptr_t)dst, value, count,
                                                ssmc_dev->stream),
               "cuMemsetD32Async");
}

void mgpuMemset16(void *dst, uint16_t value, size_t count, void *stream) {
  (void)stream;
  if (!ssmc_failed && count)
    SSMC_CHECK(ssmc_dev->cuda->memset_d16_async((uint64_t)(uintptr_t)dst, value, count,
                                                ssmc_dev->stream),
               "cuMemsetD16Async");
}

static void ssmc_release_graphs(const ssmc_device *device); /* with run_forward */

void ssmc_cuda_release(const ssmc_device *device) {
  int i;
  ssmc_release_graphs(device);
  pthread_mutex_lock(&ssmc_image_lock);
  for (i = 0; i < ssmc_image_count; ++i)
    if (ssmc_images[i].module) {
      device->cuda->module_unload(ssmc_images[i].module);
      ssmc_images[i].module = 0;
    }
  pthread_mutex_unlock(&ssmc_image_lock);
}

/* ---- the vendor matrix product, for ssm-gpu-projections' calls ---- */
typedef struct { void *allocated; void *aligned; int64_t offset; int64_t dims[]; } ssmc_any_memref;

/* A memref as a row-major matrix: every dimension but the last flattens into
   rows of one stride `ld` (unit dimensions ignored). 0 when it does not. */
static int ssmc_as_matrix(int64_t rank, void *descriptor, int64_t bytes, uint64_t *ptr,
                          int64_t *rows, int64_t *cols, int64_t *ld) {
  const ssmc_any_memref *m = (const ssmc_any_memref *)descriptor;
  const int64_t *sizes = m->dims, *strides = m->dims + rank;
  int64_t r = 1, row_stride = 0, next = 0;
  if (rank < 2 || strides[rank - 1] != 1)
    return 0;
  for (int64_t i = rank - 2; i >= 0; --i) {
    r *= sizes[i];
    if (sizes[i] == 1)
      continue;
    if (row_stride == 0)
      row_stride = strides[i];
    else if (strides[i] != next)
      return 0;
    next = strides[i] * sizes[i];
  }
  *cols = sizes[rank - 1];
  *ld = row_stride ? row_stride : *cols;
  *rows = r;
  *ptr = (uint64_t)(uintptr_t)m->aligned + (uint64_t)m->offset * (uint64_t)bytes;
  return *ld >= *cols;
}

/* 0: queued; 1: not supported here (the model computes it with its own
   kernel); a failure is recorded and reported as 0 so nothing more runs.
   Accumulating calls add onto an f32 output; storing calls write the
   product rounded to the output's type (ot, ob bytes). */
static int32_t ssmc_gemm_call(int32_t xt, int64_t xb, int32_t wt, int64_t wb, int32_t ot,
                              int64_t ob, int32_t acc, int64_t xr, void *xd, int64_t wr,
                              void *wd, int64_t orank, void *od) {
  uint64_t x, w, o;
  int64_t m, k, n, kw, mo, no, ldx, ldw, ldo;
  int32_t rc;
  if (ssmc_failed)
    return 0;
  if (!ssmc_dev->gemm)
    return 1;
  if (!ssmc_as_matrix(xr, xd, xb, &x, &m, &k, &ldx) ||
      !ssmc_as_matrix(wr, wd, wb, &w, &n, &kw, &ldw) ||
      !ssmc_as_matrix(orank, od, ob, &o, &mo, &no, &ldo) || kw != k || mo != m || no != n)
    return 1;
  rc = ssmc_dev->gemm(ssmc_dev, xt, wt, ot, acc, m, n, k, x, ldx, w, ldw, o, ldo);
  if (rc == 0 || rc == 1)
    return rc;
  ssmc_failed = ssmc_reported = 1; /* the runtime wrote the message */
  return 0;
}

/* ssmc_gpu_gemm_X_W: out (f32) += x . w^T; ssmc_gpu_gemm_store_X_W:
   out (X) = x . w^T (see ssm-gpu-projections). */
#define SSMC_GEMM_ENTRY(X, XT, XB, W, WT, WB)                                   \
  int32_t ssmc_gpu_gemm_##X##_##W(int64_t xr, void *xd, int64_t wr, void *wd,  \
                                  int64_t orank, void *od) {                   \
    return ssmc_gemm_call(XT, XB, WT, WB, SSMC_DTYPE_F32, 4, 1, xr, xd, wr, wd,  \
                          orank, od);                                          \
  }                                                                            \
  int32_t ssmc_gpu_gemm_store_##X##_##W(int64_t xr, void *xd, int64_t wr,      \
                                        void *wd, int64_t orank, void *od) {   \
    return ssmc_gemm_call(XT, XB, WT, WB, XT, XB, 0, xr, xd, wr, wd, orank, od); \
  }
#define SSMC_GEMM_ENTRIES(X, XT, XB)                                            \
  SSMC_GEMM_ENTRY(X, XT, XB, f32, SSMC_DTYPE_F32, 4)                            \
  SSMC_GEMM_ENTRY(X, XT, XB, bf16, SSMC_DTYPE_BF16, 2)                          \
  SSMC_GEMM_ENTRY(X, XT, XB, f16, SSMC_DTYPE_F16, 2)
SSMC_GEMM_ENTRIES(f32, SSMC_DTYPE_F32, 4)
SSMC_GEMM_ENTRIES(bf16, SSMC_DTYPE_BF16, 2)
SSMC_GEMM_ENTRIES(f16, SSMC_DTYPE_F16, 2)

/* ---- helpers of run_forward ---- */
static uint64_t ssmc_alloc(uint64_t bytes) {
  return (uint64_t)(uintptr_t)mgpuMemAlloc(bytes ? bytes : 1, 0, 0);
}

static void ssmc_upload(uint64_t dst, const void *src, uint64_t bytes) {
  if (!ssmc_failed && bytes)
    SSMC_CHECK(ssmc_dev->cuda->memcpy_htod_async(dst, src, bytes, ssmc_dev->stream),
               "cuMemcpyHtoDAsync");
}

static void ssmc_download(void *dst, uint64_t src, uint64_t bytes) {
  if (!ssmc_failed && bytes)
    SSMC_CHECK(ssmc_dev->cuda->memcpy_dtoh_async(dst, src, bytes, ssmc_dev->stream),
               "cuMemcpyDtoHAsync");
}

static void ssmc_copy(uint64_t dst, uint64_t src, uint64_t bytes) {
  if (!ssmc_failed && bytes)
    SSMC_CHECK(ssmc_dev->cuda->memcpy_async(dst, src, bytes, ssmc_dev->stream), "cuMemcpyAsync");
}

static void set_contiguous(int64_t *sizes, int64_t *strides, int rank) {
  int64_t stride = 1;
  for (int d = rank - 1; d >= 0; --d) {
    strides[d] = stride;
    stride *= sizes[d];
  }
}
)c";
} // namespace

std::string ssmc::cuda::generateLaunchCode(const std::vector<cpu::StateArg> &states, int64_t vocab,
                                           bool takesPositions,
                                           const std::vector<HostMirror> &mirrors) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << "/* Launch code generated by ssmc for a CUDA target: the runtime ABI below\n"
        "   (runtime/include/ssmc/abi.h, verbatim), MLIR's mgpu* host functions on\n"
        "   the runtime's driver table, and the entry points. No model arithmetic:\n"
        "   it moves inputs, state rows and logits and calls the compiled @forward. */\n"
     << kAbiHeaderText
     << "\n#include <pthread.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n\n"
        "const uint32_t ssmc_abi_version = SSMC_ABI_VERSION;\n";
  os << kShim << "\n";
  for (int r = 1; r <= 6; ++r)
    os << "typedef struct { void *allocated; void *aligned; int64_t offset; int64_t sizes[" << r
       << "]; int64_t strides[" << r << "]; } memref" << r << ";\n";
  os << "\nstruct forward_results {\n  memref3 logits;\n";
  for (size_t i = 0; i < states.size(); ++i)
    os << "  memref" << stateRank(states[i]) << " state" << i << ";\n";
  os << "};\n\nextern void _mlir_ciface_forward(struct forward_results *, memref1 *weights, "
        "memref2 *ids, memref1 *lengths";
  if (takesPositions)
    os << ", memref1 *positions";
  for (size_t i = 0; i < states.size(); ++i)
    os << ", memref" << stateRank(states[i]) << " *state" << i;
  for (const HostMirror &m : mirrors)
    os << ", memref" << (m.field == "tokens" ? 2 : 1) << " *host_" << m.field;
  os << ");\n\n";

  size_t numStates = states.size();
  size_t ownedSize = std::max<size_t>(numStates, 1);
  bool graphsPossible = mirrors.empty(); // host mirrors would bake one step's values in

  // Decode graphs: the state of one key's capture and replay.
  os << "/* ---- decode steps as CUDA graphs ----\n"
        "   A decode step (seq_len 1) of a batch whose slots are one ascending run\n"
        "   runs eagerly the first time, is captured into a graph the second time\n"
        "   and replayed from then on: the host then issues one launch instead of\n"
        "   hundreds. The graph reads its inputs from buffers it owns and writes its\n"
        "   results to its own allocations (freed when it is launched again).\n"
        "   SSMC_CUDA_GRAPHS=0 disables graphs. */\n"
        "typedef struct {\n"
        "  const void *stream, *state0;\n"
        "  int64_t batch, first_slot, max_context;\n"
        "  int calls; /* eager calls so far; -1: capture failed, stay eager */\n"
        "  void *exec;\n"
        "  uint64_t tokens, lengths, positions;\n"
        "  struct forward_results r;\n"
        "} ssmc_graph;\n"
        "static ssmc_graph ssmc_graphs[32];\n"
        "static int ssmc_graph_count;\n"
        "static pthread_mutex_t ssmc_graph_lock = PTHREAD_MUTEX_INITIALIZER;\n\n"
        "static void ssmc_release_graphs(const ssmc_device *device) {\n"
        "  pthread_mutex_lock(&ssmc_graph_lock);\n"
        "  for (int i = 0; i < ssmc_graph_count; ++i) {\n"
        "    ssmc_graph *g = &ssmc_graphs[i];\n"
        "    if (g->exec && device->cuda->graph_exec_destroy)\n"
        "      device->cuda->graph_exec_destroy(g->exec);\n"
        "    /* the graph's input buffers (allocated before its capture) */\n"
        "    if (g->tokens) device->cuda->mem_free_async(g->tokens, device->stream);\n"
        "    if (g->lengths) device->cuda->mem_free_async(g->lengths, device->stream);\n"
        "    if (g->positions) device->cuda->mem_free_async(g->positions, device->stream);\n"
        "  }\n"
        "  ssmc_graph_count = 0;\n"
        "  pthread_mutex_unlock(&ssmc_graph_lock);\n"
        "}\n\n"
        "static int ssmc_graphs_enabled(void) {\n"
        "  static int off = -1; /* SSMC_CUDA_GRAPHS, read once: this runs every call */\n"
        "  const ssmc_cuda_api *a = ssmc_dev->cuda;\n"
        "  if (off < 0) {\n"
        "    const char *env = getenv(\"SSMC_CUDA_GRAPHS\");\n"
        "    off = env && env[0] == '0';\n"
        "  }\n"
        "  return !off && a->stream_begin_capture && a->stream_end_capture &&\n"
        "         a->graph_instantiate && a->graph_launch && a->graph_exec_destroy &&\n"
        "         a->graph_destroy;\n"
        "}\n\n"
        "/* The graph entry of this call's key, created if there is room. */\n"
        "static ssmc_graph *ssmc_graph_for(const ssmc_call *c) {\n"
        "  ssmc_graph *g = 0;\n"
        "  pthread_mutex_lock(&ssmc_graph_lock);\n"
        "  for (int i = 0; i < ssmc_graph_count && !g; ++i) {\n"
        "    ssmc_graph *e = &ssmc_graphs[i];\n"
        "    if (e->stream == c->device->stream && e->batch == c->batch &&\n"
        "        e->first_slot == c->slots[0] && e->max_context == c->max_context &&\n"
        "        e->state0 == (" << (numStates ? "c->states[0]" : "0") << "))\n"
        "      g = e;\n"
        "  }\n"
        "  if (!g && ssmc_graph_count < 32) {\n"
        "    g = &ssmc_graphs[ssmc_graph_count++];\n"
        "    memset(g, 0, sizeof *g);\n"
        "    g->stream = c->device->stream;\n"
        "    g->state0 = " << (numStates ? "c->states[0]" : "0") << ";\n"
        "    g->batch = c->batch;\n"
        "    g->first_slot = c->slots[0];\n"
        "    g->max_context = c->max_context;\n"
        "  }\n"
        "  pthread_mutex_unlock(&ssmc_graph_lock);\n"
        "  return g;\n"
        "}\n\n";

  // The compiled model called on memrefs set up by run_forward.
  os << "static void call_forward(struct forward_results *r, memref1 *weights, memref2 *ids, "
        "memref1 *lengths, memref1 *positions";
  for (size_t i = 0; i < numStates; ++i)
    os << ", memref" << stateRank(states[i]) << " *state" << i;
  for (const HostMirror &m : mirrors)
    os << ", memref" << (m.field == "tokens" ? 2 : 1) << " *host_" << m.field;
  os << ") {\n  (void)positions;\n  memset(r, 0, sizeof *r);\n"
        "  _mlir_ciface_forward(r, weights, ids, lengths";
  if (takesPositions)
    os << ", positions";
  for (size_t i = 0; i < numStates; ++i)
    os << ", state" << i;
  for (const HostMirror &m : mirrors)
    os << ", host_" << m.field;
  os << ");\n}\n\n";

  os << "static int32_t run_forward(const ssmc_call *c) {\n"
        "  const int64_t B = c->batch, L = c->seq_len, V = "
     << vocab
     << ";\n"
        "  uint64_t owned[" << ownedSize << "] = {0};\n"
        "  void *inputs[" << ownedSize << "] = {0}; /* state buffers passed in */\n"
        "  struct forward_results r;\n"
        "  uint64_t dev_tokens = 0, dev_lengths = 0, dev_positions = 0;\n"
        "  int contiguous = 1, replayed = 0;\n"
        "  ssmc_graph *g = 0;\n"
        "  if (!c->device || !c->device->cuda)\n"
        "    return 10; /* not run by a CUDA-capable runtime */\n"
        "  ssmc_dev = c->device;\n"
        "  ssmc_failed = ssmc_reported = 0;\n"
        "  if (c->device->error && c->device->error_bytes) c->device->error[0] = 0;\n"
        "  memset(&r, 0, sizeof r);\n"
        "  for (int64_t b = 1; b < B; ++b)\n"
        "    if (c->slots[b] != c->slots[0] + b) contiguous = 0;\n";
  if (graphsPossible)
    os << "  if (L == 1 && contiguous && ssmc_graphs_enabled())\n"
          "    g = ssmc_graph_for(c);\n"
          "  if (g && g->calls < 0)\n"
          "    g = 0;\n";
  os << "  /* Inputs the kernels read, on the device (a graph's own buffers). */\n"
        "  if (g && !g->tokens) {\n"
        "    g->tokens = ssmc_alloc((uint64_t)(B * L) * 4);\n"
        "    g->lengths = ssmc_alloc((uint64_t)B * 4);\n"
        "    g->positions = ssmc_alloc((uint64_t)B * 8);\n"
        "  }\n"
        "  dev_tokens = g ? g->tokens : ssmc_alloc((uint64_t)(B * L) * 4);\n"
        "  dev_lengths = g ? g->lengths : ssmc_alloc((uint64_t)B * 4);\n"
        "  ssmc_upload(dev_tokens, c->tokens, (uint64_t)(B * L) * 4);\n"
        "  ssmc_upload(dev_lengths, c->lengths, (uint64_t)B * 4);\n";
  if (takesPositions)
    os << "  dev_positions = g ? g->positions : ssmc_alloc((uint64_t)B * 8);\n"
          "  ssmc_upload(dev_positions, c->positions, (uint64_t)B * 8);\n";
  os << "  memref1 weights = {(void *)c->weights, (void *)c->weights, 0, {INT64_MAX / 2}, {1}};\n"
        "  memref2 ids = {(void *)(uintptr_t)dev_tokens, (void *)(uintptr_t)dev_tokens, 0, {B, L}, "
        "{L, 1}};\n"
        "  memref1 lengths = {(void *)(uintptr_t)dev_lengths, (void *)(uintptr_t)dev_lengths, 0, "
        "{B}, {1}};\n"
        "  memref1 positions = {(void *)(uintptr_t)dev_positions, "
        "(void *)(uintptr_t)dev_positions, 0, {B}, {1}};\n";
  for (const HostMirror &m : mirrors) {
    if (m.field == "tokens")
      os << "  memref2 host_tokens = {(void *)c->tokens, (void *)c->tokens, 0, {B, L}, {L, 1}};\n";
    else
      os << "  memref1 host_" << m.field << " = {(void *)c->" << m.field << ", (void *)c->"
         << m.field << ", 0, {B}, {1}};\n";
  }
  os << "  /* State rows of this call's slots: used in place when the slots are one\n"
        "     ascending run, else gathered into one device buffer each. */\n";
  for (size_t i = 0; i < numStates; ++i) {
    const cpu::StateArg &st = states[i];
    std::string rowBytes = rowExpr(st, st.elementBytes);
    size_t rank = stateRank(st);
    os << "  /* " << st.name << " */\n"
       << "  memref" << rank << " state" << i << ";\n"
       << "  if (contiguous) {\n"
       << "    inputs[" << i << "] = (void *)((uintptr_t)c->states[" << i
       << "] + (uint64_t)c->slots[0] * " << rowBytes << ");\n"
       << "  } else {\n"
       << "    owned[" << i << "] = ssmc_alloc((uint64_t)B * " << rowBytes << ");\n"
       << "    for (int64_t b = 0; b < B; ++b)\n"
       << "      ssmc_copy(owned[" << i << "] + (uint64_t)b * " << rowBytes
       << ", (uint64_t)(uintptr_t)c->states[" << i << "] + (uint64_t)c->slots[b] * " << rowBytes
       << ", " << rowBytes << ");\n"
       << "    inputs[" << i << "] = (void *)(uintptr_t)owned[" << i << "];\n"
       << "  }\n"
       << "  state" << i << ".allocated = state" << i << ".aligned = inputs[" << i << "];\n"
       << "  state" << i << ".offset = 0;\n"
       << "  state" << i << ".sizes[0] = B;\n";
    if (st.growsWithContext)
      os << "  state" << i << ".sizes[1] = c->max_context;\n";
    for (size_t d = 0; d < st.shape.size(); ++d)
      os << "  state" << i << ".sizes[" << d + 1 + (st.growsWithContext ? 1 : 0)
         << "] = " << st.shape[d] << ";\n";
    os << "  set_contiguous(state" << i << ".sizes, state" << i << ".strides, " << rank << ");\n";
  }
  std::string args = "&weights, &ids, &lengths, &positions";
  for (size_t i = 0; i < numStates; ++i)
    args += ", &state" + std::to_string(i);
  for (const HostMirror &m : mirrors)
    args += ", &host_" + m.field;
  os << "  if (ssmc_failed) {\n"
        "  } else if (g && g->exec) {\n"
        "    SSMC_CHECK(ssmc_dev->cuda->graph_launch(g->exec, ssmc_dev->stream), \"cuGraphLaunch\");\n"
        "    r = g->r;\n"
        "    replayed = 1;\n"
        "  } else if (g && g->calls >= 1) {\n"
        "    /* Capture (nothing runs), then launch what was captured. */\n"
        "    void *graph = 0;\n"
        "    int captured = ssmc_dev->cuda->stream_begin_capture(ssmc_dev->stream) == 0;\n"
        "    if (captured) {\n"
        "      call_forward(&r, " << args << ");\n"
        "      captured = ssmc_dev->cuda->stream_end_capture(ssmc_dev->stream, &graph) == 0 &&\n"
        "                 !ssmc_failed;\n"
        "      captured = captured && ssmc_dev->cuda->graph_instantiate(&g->exec, graph) == 0;\n"
        "      if (graph)\n"
        "        ssmc_dev->cuda->graph_destroy(graph);\n"
        "    }\n"
        "    if (captured) {\n"
        "      g->r = r;\n"
        "      SSMC_CHECK(ssmc_dev->cuda->graph_launch(g->exec, ssmc_dev->stream), "
        "\"cuGraphLaunch\");\n"
        "      replayed = 1;\n"
        "    } else {\n"
        "      /* Not capturable here: forget the failure and stay eager for this key. */\n"
        "      g->exec = 0;\n"
        "      g->calls = -1;\n"
        "      ssmc_failed = ssmc_reported = 0;\n"
        "      if (c->device->error && c->device->error_bytes) c->device->error[0] = 0;\n"
        "      call_forward(&r, " << args << ");\n"
        "    }\n"
        "  } else {\n"
        "    call_forward(&r, " << args << ");\n"
        "    if (g)\n"
        "      g->calls++;\n"
        "  }\n";
  // @forward returns only the logits after each sequence's last valid token,
  // B x 1 x V (ssm.last_token; the compile driver checks the type).
  os << "  if (!ssmc_failed && r.logits.strides[2] != 1)\n"
        "    ssmc_fail_text(\"the compiled model returned non-contiguous logits\");\n"
        "  if (!ssmc_failed && r.logits.strides[0] == V)\n"
        "    ssmc_download(c->logits, (uint64_t)(uintptr_t)r.logits.aligned +\n"
        "                  4 * (uint64_t)r.logits.offset, (uint64_t)(B * V) * 4);\n"
        "  else\n"
        "    for (int64_t b = 0; b < B && !ssmc_failed; ++b)\n"
        "      ssmc_download(c->logits + b * V,\n"
        "                    (uint64_t)(uintptr_t)r.logits.aligned + 4 * (uint64_t)(r.logits.offset +\n"
        "                        b * r.logits.strides[0]),\n"
        "                    (uint64_t)V * 4);\n";
  // New states back into their rows; the result must be contiguous rows.
  for (size_t i = 0; i < numStates; ++i) {
    const cpu::StateArg &st = states[i];
    std::string rowElems = rowExpr(st, 1), rowBytes = rowExpr(st, st.elementBytes);
    size_t rank = stateRank(st);
    os << "  if (!ssmc_failed) {\n    int64_t expect[" << rank << "], strides[" << rank
       << "];\n    uint64_t result = (uint64_t)(uintptr_t)r.state" << i
       << ".aligned + (uint64_t)r.state" << i << ".offset * " << st.elementBytes << ";\n"
       << "    memcpy(expect, r.state" << i << ".sizes, sizeof expect);\n"
       << "    set_contiguous(expect, strides, " << rank << ");\n"
       << "    if (memcmp(strides, r.state" << i << ".strides, sizeof strides) != 0)\n"
       << "      ssmc_fail_text(\"the compiled model returned a non-contiguous state\");\n"
       << "    else if (contiguous) {\n"
       << "      if (result != (uint64_t)(uintptr_t)inputs[" << i << "]) /* not updated in place */\n"
       << "        ssmc_copy((uint64_t)(uintptr_t)inputs[" << i << "], result, (uint64_t)B * "
       << rowBytes << ");\n"
       << "    } else for (int64_t b = 0; b < B; ++b)\n"
       << "      ssmc_copy((uint64_t)(uintptr_t)c->states[" << i
       << "] + (uint64_t)c->slots[b] * " << rowBytes << ", result + (uint64_t)b * " << rowBytes
       << ", " << rowBytes << ");\n  }\n";
  }
  // Free what the model allocated (results not aliasing our buffers), once;
  // a graph's results are its own, freed when it is launched again.
  os << "  {\n    void *results[] = {r.logits.allocated";
  for (size_t i = 0; i < numStates; ++i)
    os << ", r.state" << i << ".allocated";
  os << "};\n"
        "    void *freed[" << numStates + 1 << "];\n"
        "    int nfreed = 0, failed = ssmc_failed;\n"
        "    ssmc_failed = 0; /* release memory even after a failure */\n"
        "    for (unsigned k = 0; k < sizeof results / sizeof results[0] && !replayed; ++k) {\n"
        "      void *p = results[k];\n"
        "      int skip = (p == 0);\n"
        "      for (unsigned j = 0; j < " << ownedSize << "; ++j)\n"
        "        if (p == inputs[j]) skip = 1;\n"
        "      for (int j = 0; j < nfreed; ++j)\n"
        "        if (p == freed[j]) skip = 1;\n"
        "      if (!skip) { mgpuMemFree(p, 0); freed[nfreed++] = p; }\n"
        "    }\n"
        "    for (unsigned j = 0; j < " << ownedSize << "; ++j)\n"
        "      mgpuMemFree((void *)(uintptr_t)owned[j], 0);\n"
        "    if (!g) {\n"
        "      mgpuMemFree((void *)(uintptr_t)dev_tokens, 0);\n"
        "      mgpuMemFree((void *)(uintptr_t)dev_lengths, 0);\n"
        "      mgpuMemFree((void *)(uintptr_t)dev_positions, 0);\n"
        "    }\n"
        "    SSMC_CHECK(ssmc_dev->cuda->stream_synchronize(ssmc_dev->stream), "
        "\"cuStreamSynchronize\");\n"
        "    ssmc_failed |= failed;\n"
        "  }\n"
        "  return ssmc_failed ? 5 : 0;\n"
        "}\n\n"
        "int32_t ssmc_prefill(const ssmc_call *c) { return run_forward(c); }\n"
        "int32_t ssmc_decode(const ssmc_call *c) { return run_forward(c); }\n";
  return s;
}
