//===- VendorGemm.cpp - cuBLAS as ssmc_device.gemm ------------------------===//
//
// Prefill's projections are plain matrix products, for which cuBLAS is the
// measured best on NVIDIA GPUs (see NOTES.md, "CUDA prefill"). Generated code
// reaches it through ssmc_device.gemm; this file opens libcublas with dlopen
// (never linked: the runtime loads where there is none, and compiled models
// then compute the products with their own kernels) and keeps one handle per
// stream. No model knowledge: it is a matrix product of given shapes.
//
// Library: $SSMC_CUBLAS (a path), else libcublas.so.13, .so.12, .so from the
// loader's search path. SSMC_CUBLAS=none disables it.
//
//===----------------------------------------------------------------------===//

#include "runtime/VendorGemm.h"

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>

namespace {

// cuBLAS's C API spelled without its headers (values from cublas_api.h and
// library_types.h of CUDA 12/13, stable across versions).
using Status = int;
using Handle = void *;
constexpr int kOpN = 0, kOpT = 1;
constexpr int kR32F = 0, kR16F = 2, kR16BF = 14;
constexpr int kCompute32F = 68;
constexpr int kGemmDefault = -1;

struct Cublas {
  Status (*create)(Handle *) = nullptr;
  Status (*setStream)(Handle, void *) = nullptr;
  Status (*gemmEx)(Handle, int, int, int, int, int, const void *, const void *, int, int,
                   const void *, int, int, const void *, void *, int, int, int, int) = nullptr;
  const char *(*statusString)(Status) = nullptr;
  void *library = nullptr;
  std::mutex lock;
  std::map<void *, Handle> handles; // one per stream
};

Cublas *open() {
  static Cublas *cublas = [] () -> Cublas * {
    const char *env = std::getenv("SSMC_CUBLAS");
    if (env && std::strcmp(env, "none") == 0)
      return nullptr;
    void *lib = nullptr;
    if (env && *env)
      lib = dlopen(env, RTLD_NOW | RTLD_LOCAL);
    for (const char *name : {"libcublas.so.13", "libcublas.so.12", "libcublas.so"})
      if (!lib)
        lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (!lib)
      return nullptr;
    auto *c = new Cublas();
    c->library = lib;
    bool ok = true;
    auto resolve = [&](auto &fn, const char *name) {
      void *sym = dlsym(lib, name);
      if (!sym)
        ok = false;
      std::memcpy(&fn, &sym, sizeof sym);
    };
    resolve(c->create, "cublasCreate_v2");
    resolve(c->setStream, "cublasSetStream_v2");
    resolve(c->gemmEx, "cublasGemmEx");
    resolve(c->statusString, "cublasGetStatusString");
    if (!ok) {
      dlclose(lib);
      delete c;
      return nullptr;
    }
    return c;
  }();
  return cublas;
}

int cudaType(int32_t dtype) {
  switch (dtype) {
  case SSMC_DTYPE_F32:
    return kR32F;
  case SSMC_DTYPE_BF16:
    return kR16BF;
  case SSMC_DTYPE_F16:
    return kR16F;
  default:
    return -1;
  }
}

int32_t fail(const ssmc_device *device, const char *call, Cublas *c, Status status) {
  if (device->error && device->error_bytes)
    std::snprintf(device->error, device->error_bytes, "%s failed: %s (%d)", call,
                  c->statusString ? c->statusString(status) : "cuBLAS error", status);
  return 2;
}

int32_t gemm(const ssmc_device *device, int32_t xDtype, int32_t wDtype, int32_t outDtype,
             int32_t accumulate, int64_t m, int64_t n, int64_t k, uint64_t x, int64_t ldx,
             uint64_t w, int64_t ldw, uint64_t out, int64_t ldo) {
  Cublas *c = open();
  if (!c)
    return 1;
  // cuBLAS takes int sizes; GemmEx wants both operands of one type.
  const int64_t limit = 0x7fffffff;
  // f32 operands stay with the model's own kernels: on the H100 (2026-11-23)
  // cublasGemmEx with f32 A/B/C and COMPUTE_32F gave wrong products for
  // default-llamba's shapes (m 48, k 512) while bf16 matched; see NOTES.md.
  if (xDtype == SSMC_DTYPE_F32)
    return 1;
  // Accumulating (beta = 1) only into f32; storing into the operands' type
  // or f32.
  bool outOk = outDtype == SSMC_DTYPE_F32 || (!accumulate && outDtype == xDtype);
  if (xDtype != wDtype || cudaType(xDtype) < 0 || !outOk || m > limit || n > limit || k > limit ||
      ldx > limit || ldw > limit || ldo > limit)
    return 1;
  if (m == 0 || n == 0)
    return 0;
  Handle handle = nullptr;
  {
    std::lock_guard<std::mutex> guard(c->lock);
    Handle &h = c->handles[device->stream];
    if (!h) {
      if (Status s = c->create(&h)) {
        c->handles.erase(device->stream);
        return fail(device, "cublasCreate", c, s);
      }
      if (Status s = c->setStream(h, device->stream))
        return fail(device, "cublasSetStream", c, s);
    }
    handle = h;
  }
  static const bool trace = std::getenv("SSMC_GEMM_TRACE") != nullptr;
  if (trace)
    std::fprintf(stderr,
                 "ssmc gemm: x %d w %d out %d acc %d m %lld n %lld k %lld ldx %lld ldw %lld "
                 "ldo %lld\n",
                 xDtype, wDtype, outDtype, accumulate, (long long)m, (long long)n, (long long)k, (long long)ldx,
                 (long long)ldw, (long long)ldo);
  // Row-major out[m x n] = x[m x k] . w[n x k]^T is, column-major,
  // out^T[n x m] = w^T . x with w read transposed.
  const float one = 1.0f, zero = 0.0f;
  int type = cudaType(xDtype);
  Status s = c->gemmEx(handle, kOpT, kOpN, static_cast<int>(n), static_cast<int>(m),
                       static_cast<int>(k), &one, reinterpret_cast<const void *>(w), type,
                       static_cast<int>(ldw), reinterpret_cast<const void *>(x), type,
                       static_cast<int>(ldx), accumulate ? &one : &zero,
                       reinterpret_cast<void *>(out), cudaType(outDtype),
                       static_cast<int>(ldo), kCompute32F, kGemmDefault);
  if (s)
    return fail(device, "cublasGemmEx", c, s);
  return 0;
}

} // namespace

ssmc::rt::GemmFn ssmc::rt::vendorGemm() { return open() ? &gemm : nullptr; }

const char *ssmc::rt::vendorGemmName() { return open() ? "cuBLAS" : nullptr; }
