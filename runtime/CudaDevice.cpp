//===- CudaDevice.cpp - The CUDA driver as the runtime uses it ------------===//

#include "runtime/CudaDevice.h"

#ifndef SSMC_HAVE_CUDA

namespace ssmc {
namespace rt {

std::shared_ptr<CudaDevice> CudaDevice::open(unsigned, std::string &error) {
  error = "no CUDA device: this runtime was built without CUDA support (cuda.h was not found "
          "when it was built)";
  return nullptr;
}
CudaDevice::~CudaDevice() = default;
bool CudaDevice::makeCurrent(std::string &) { return false; }
bool CudaDevice::allocate(uint64_t, uint64_t &, std::string &) { return false; }
void CudaDevice::release(uint64_t) {}
bool CudaDevice::upload(uint64_t, const void *, uint64_t, std::string &) { return false; }
bool CudaDevice::download(void *, uint64_t, uint64_t, std::string &) { return false; }
bool CudaDevice::zero(uint64_t, uint64_t, std::string &) { return false; }
bool CudaDevice::createStream(void *&, std::string &) { return false; }
bool CudaDevice::memoryInfo(uint64_t &, uint64_t &, std::string &) { return false; }
void CudaDevice::destroyStream(void *) {}
const ssmc_cuda_api *CudaDevice::api() const { return nullptr; }

} // namespace rt
} // namespace ssmc

#else // SSMC_HAVE_CUDA

#include <cuda.h>

#include <cstdlib>
#include <mutex>

#include <dlfcn.h>

namespace ssmc {
namespace rt {
namespace {

// The versioned symbol a cuda.h name stands for ("cuMemAlloc" is
// "cuMemAlloc_v2"): stringify after macro expansion.
#define SSMC_CU_STR2(x) #x
#define SSMC_CU_STR(x) SSMC_CU_STR2(x)

// Every driver function the runtime and generated code use.
#define SSMC_CU_FUNCTIONS(X)                                                   \
  X(cuInit)                                                                    \
  X(cuGetErrorName)                                                            \
  X(cuGetErrorString)                                                          \
  X(cuDeviceGetCount)                                                          \
  X(cuDeviceGet)                                                               \
  X(cuDeviceGetName)                                                           \
  X(cuDeviceGetAttribute)                                                      \
  X(cuDevicePrimaryCtxRetain)                                                  \
  X(cuDevicePrimaryCtxRelease)                                                 \
  X(cuCtxSetCurrent)                                                           \
  X(cuCtxSynchronize)                                                          \
  X(cuMemAlloc)                                                                \
  X(cuMemFree)                                                                 \
  X(cuMemcpyHtoD)                                                              \
  X(cuMemcpyDtoH)                                                              \
  X(cuMemsetD8)                                                                \
  X(cuMemGetInfo)                                                              \
  X(cuStreamCreate)                                                            \
  X(cuStreamDestroy)                                                           \
  X(cuStreamSynchronize)                                                       \
  X(cuModuleLoadData)                                                          \
  X(cuModuleUnload)                                                            \
  X(cuModuleGetFunction)                                                       \
  X(cuLaunchKernel)                                                            \
  X(cuMemAllocAsync)                                                           \
  X(cuMemFreeAsync)                                                            \
  X(cuMemcpyAsync)                                                             \
  X(cuMemcpyHtoDAsync)                                                         \
  X(cuMemcpyDtoHAsync)                                                         \
  X(cuMemsetD32Async)                                                          \
  X(cuMemsetD16Async)                                                           \
  X(cuStreamBeginCapture)                                                      \
  X(cuStreamEndCapture)                                                        \
  X(cuGraphInstantiateWithFlags)                                               \
  X(cuGraphLaunch)                                                             \
  X(cuGraphExecDestroy)                                                        \
  X(cuGraphDestroy)

struct Driver {
#define SSMC_CU_MEMBER(f) decltype(&::f) f = nullptr;
  SSMC_CU_FUNCTIONS(SSMC_CU_MEMBER)
#undef SSMC_CU_MEMBER
  void *library = nullptr;
  std::string error; // why the driver cannot be used, if it cannot
};

/// Names of driver errors for when cuGetErrorName itself fails (the stub
/// library answers every call with CUDA_ERROR_STUB_LIBRARY).
const char *knownErrorName(CUresult rc) {
  switch (rc) {
  case CUDA_SUCCESS:
    return "CUDA_SUCCESS";
  case CUDA_ERROR_INVALID_VALUE:
    return "CUDA_ERROR_INVALID_VALUE";
  case CUDA_ERROR_OUT_OF_MEMORY:
    return "CUDA_ERROR_OUT_OF_MEMORY";
  case CUDA_ERROR_NOT_INITIALIZED:
    return "CUDA_ERROR_NOT_INITIALIZED";
  case CUDA_ERROR_STUB_LIBRARY:
    return "CUDA_ERROR_STUB_LIBRARY";
  case CUDA_ERROR_NO_DEVICE:
    return "CUDA_ERROR_NO_DEVICE";
  case CUDA_ERROR_INVALID_DEVICE:
    return "CUDA_ERROR_INVALID_DEVICE";
  case CUDA_ERROR_SYSTEM_DRIVER_MISMATCH:
    return "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH";
  default:
    return nullptr;
  }
}

/// "CUDA_ERROR_X (n): text".
std::string describe(const Driver &d, CUresult rc) {
  const char *name = nullptr, *text = nullptr;
  if (!d.cuGetErrorName || d.cuGetErrorName(rc, &name) != CUDA_SUCCESS || !name)
    name = knownErrorName(rc);
  if (!d.cuGetErrorString || d.cuGetErrorString(rc, &text) != CUDA_SUCCESS)
    text = nullptr;
  std::string s = std::string(name ? name : "unknown CUDA error") + " (" + std::to_string(rc) + ")";
  if (text && *text)
    s += std::string(": ") + text;
  return s;
}

Driver &driver() {
  static Driver d;
  static std::once_flag once;
  std::call_once(once, [] {
    d.library = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!d.library) {
      const char *why = dlerror();
      d.error = std::string("libcuda.so.1 not found (") + (why ? why : "dlopen failed") +
                "); is the NVIDIA driver installed?";
      return;
    }
#define SSMC_CU_RESOLVE(f)                                                     \
  if (d.error.empty()) {                                                       \
    void *symbol = dlsym(d.library, SSMC_CU_STR(f));                           \
    if (!symbol)                                                               \
      d.error = "libcuda.so.1 has no " SSMC_CU_STR(f) " (driver too old?)";    \
    else                                                                       \
      d.f = reinterpret_cast<decltype(&::f)>(symbol);                          \
  }
    SSMC_CU_FUNCTIONS(SSMC_CU_RESOLVE)
#undef SSMC_CU_RESOLVE
    if (!d.error.empty())
      return;
    CUresult rc = d.cuInit(0);
    if (rc != CUDA_SUCCESS)
      d.error = "cuInit failed: " + describe(d, rc);
  });
  return d;
}

bool check(CUresult rc, const char *call, std::string &error) {
  if (rc == CUDA_SUCCESS)
    return true;
  error = std::string(call) + " failed: " + describe(driver(), rc);
  return false;
}

// The table's functions, with its plain C types, forwarding to the driver.
int32_t apiModuleLoadData(void **module, const void *image) {
  return driver().cuModuleLoadData(reinterpret_cast<CUmodule *>(module), image);
}
int32_t apiModuleUnload(void *module) {
  return driver().cuModuleUnload(static_cast<CUmodule>(module));
}
int32_t apiModuleGetFunction(void **function, void *module, const char *name) {
  return driver().cuModuleGetFunction(reinterpret_cast<CUfunction *>(function),
                                      static_cast<CUmodule>(module), name);
}
int32_t apiLaunchKernel(void *function, uint32_t gx, uint32_t gy, uint32_t gz, uint32_t bx,
                        uint32_t by, uint32_t bz, uint32_t shared, void *stream, void **params,
                        void **extra) {
  return driver().cuLaunchKernel(static_cast<CUfunction>(function), gx, gy, gz, bx, by, bz,
                                 shared, static_cast<CUstream>(stream), params, extra);
}
int32_t apiMemAllocAsync(uint64_t *ptr, size_t bytes, void *stream) {
  CUdeviceptr p = 0;
  CUresult rc = driver().cuMemAllocAsync(&p, bytes, static_cast<CUstream>(stream));
  *ptr = p;
  return rc;
}
int32_t apiMemFreeAsync(uint64_t ptr, void *stream) {
  return driver().cuMemFreeAsync(static_cast<CUdeviceptr>(ptr), static_cast<CUstream>(stream));
}
int32_t apiMemcpyAsync(uint64_t dst, uint64_t src, size_t bytes, void *stream) {
  return driver().cuMemcpyAsync(dst, src, bytes, static_cast<CUstream>(stream));
}
int32_t apiMemcpyHtoDAsync(uint64_t dst, const void *src, size_t bytes, void *stream) {
  return driver().cuMemcpyHtoDAsync(dst, src, bytes, static_cast<CUstream>(stream));
}
int32_t apiMemcpyDtoHAsync(void *dst, uint64_t src, size_t bytes, void *stream) {
  return driver().cuMemcpyDtoHAsync(dst, src, bytes, static_cast<CUstream>(stream));
}
int32_t apiMemsetD32Async(uint64_t dst, uint32_t value, size_t count, void *stream) {
  return driver().cuMemsetD32Async(dst, value, count, static_cast<CUstream>(stream));
}
int32_t apiMemsetD16Async(uint64_t dst, uint16_t value, size_t count, void *stream) {
  return driver().cuMemsetD16Async(dst, value, count, static_cast<CUstream>(stream));
}
int32_t apiStreamSynchronize(void *stream) {
  return driver().cuStreamSynchronize(static_cast<CUstream>(stream));
}
int32_t apiGetErrorName(int32_t error, const char **name) {
  return driver().cuGetErrorName(static_cast<CUresult>(error), name);
}
int32_t apiGetErrorString(int32_t error, const char **text) {
  return driver().cuGetErrorString(static_cast<CUresult>(error), text);
}

int32_t apiStreamBeginCapture(void *stream) {
  return driver().cuStreamBeginCapture(static_cast<CUstream>(stream),
                                       CU_STREAM_CAPTURE_MODE_THREAD_LOCAL);
}
int32_t apiStreamEndCapture(void *stream, void **graph) {
  return driver().cuStreamEndCapture(static_cast<CUstream>(stream),
                                     reinterpret_cast<CUgraph *>(graph));
}
int32_t apiGraphInstantiate(void **exec, void *graph) {
  return driver().cuGraphInstantiateWithFlags(reinterpret_cast<CUgraphExec *>(exec),
                                              static_cast<CUgraph>(graph),
                                              CUDA_GRAPH_INSTANTIATE_FLAG_AUTO_FREE_ON_LAUNCH);
}
int32_t apiGraphLaunch(void *exec, void *stream) {
  return driver().cuGraphLaunch(static_cast<CUgraphExec>(exec), static_cast<CUstream>(stream));
}
int32_t apiGraphExecDestroy(void *exec) {
  return driver().cuGraphExecDestroy(static_cast<CUgraphExec>(exec));
}
int32_t apiGraphDestroy(void *graph) {
  return driver().cuGraphDestroy(static_cast<CUgraph>(graph));
}

const ssmc_cuda_api kApi = {
    apiModuleLoadData,  apiModuleUnload,      apiModuleGetFunction, apiLaunchKernel,
    apiMemAllocAsync,   apiMemFreeAsync,      apiMemcpyAsync,       apiMemcpyHtoDAsync,
    apiMemcpyDtoHAsync, apiMemsetD32Async,    apiMemsetD16Async,    apiStreamSynchronize,
    apiGetErrorName,    apiGetErrorString,    apiStreamBeginCapture, apiStreamEndCapture,
    apiGraphInstantiate, apiGraphLaunch,      apiGraphExecDestroy,  apiGraphDestroy,
};

} // namespace

std::shared_ptr<CudaDevice> CudaDevice::open(unsigned requiredSm, std::string &error) {
  Driver &d = driver();
  if (!d.error.empty()) {
    error = "no CUDA device: " + d.error;
    return nullptr;
  }
  int count = 0;
  if (!check(d.cuDeviceGetCount(&count), "cuDeviceGetCount", error)) {
    error = "no CUDA device: " + error;
    return nullptr;
  }
  int ordinal = 0;
  if (const char *env = std::getenv("SSMC_CUDA_DEVICE")) {
    char *end = nullptr;
    long v = std::strtol(env, &end, 10);
    if (!*env || *end || v < 0 || v > 1024) {
      error = "SSMC_CUDA_DEVICE='" + std::string(env) + "' is not a device number";
      return nullptr;
    }
    ordinal = static_cast<int>(v);
  }
  if (count == 0 || ordinal >= count) {
    error = "no CUDA device: " + std::to_string(count) + " device(s) visible, device " +
            std::to_string(ordinal) + " requested";
    return nullptr;
  }
  std::shared_ptr<CudaDevice> dev(new CudaDevice());
  CUdevice device = 0;
  if (!check(d.cuDeviceGet(&device, ordinal), "cuDeviceGet", error))
    return nullptr;
  dev->device = device;
  char name[256] = {0};
  int major = 0, minor = 0;
  if (!check(d.cuDeviceGetName(name, sizeof name - 1, device), "cuDeviceGetName", error) ||
      !check(d.cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, device),
             "cuDeviceGetAttribute", error) ||
      !check(d.cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, device),
             "cuDeviceGetAttribute", error))
    return nullptr;
  unsigned sm = static_cast<unsigned>(major * 10 + minor);
  dev->name = std::string(name) + " (sm_" + std::to_string(sm) + ")";
  if (sm < requiredSm) {
    error = "the artifact needs an sm_" + std::to_string(requiredSm) + " or newer GPU; device " +
            std::to_string(ordinal) + " is " + dev->name;
    return nullptr;
  }
  int pools = 0;
  if (!check(d.cuDeviceGetAttribute(&pools, CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED, device),
             "cuDeviceGetAttribute", error))
    return nullptr;
  if (!pools) {
    error = "device " + dev->name + " does not support stream-ordered allocation "
            "(cuMemAllocAsync), which compiled models use";
    return nullptr;
  }
  CUcontext ctx = nullptr;
  if (!check(d.cuDevicePrimaryCtxRetain(&ctx, device), "cuDevicePrimaryCtxRetain", error))
    return nullptr;
  dev->context = ctx;
  if (!dev->makeCurrent(error))
    return nullptr;
  return dev;
}

CudaDevice::~CudaDevice() {
  if (context)
    driver().cuDevicePrimaryCtxRelease(static_cast<CUdevice>(device));
}

bool CudaDevice::makeCurrent(std::string &error) {
  return check(driver().cuCtxSetCurrent(static_cast<CUcontext>(context)), "cuCtxSetCurrent",
               error);
}

bool CudaDevice::allocate(uint64_t bytes, uint64_t &ptr, std::string &error) {
  CUdeviceptr p = 0;
  if (!check(driver().cuMemAlloc(&p, bytes ? bytes : 1), "cuMemAlloc", error))
    return false;
  ptr = p;
  return true;
}

void CudaDevice::release(uint64_t ptr) {
  if (ptr)
    driver().cuMemFree(static_cast<CUdeviceptr>(ptr));
}

// The synchronous copies and the memset run on the legacy stream, which a
// session's non-blocking stream does not wait for: they finish (context
// synchronization) before returning.
bool CudaDevice::upload(uint64_t dst, const void *src, uint64_t bytes, std::string &error) {
  return bytes == 0 || (check(driver().cuMemcpyHtoD(dst, src, bytes), "cuMemcpyHtoD", error) &&
                        check(driver().cuCtxSynchronize(), "cuCtxSynchronize", error));
}

bool CudaDevice::download(void *dst, uint64_t src, uint64_t bytes, std::string &error) {
  return bytes == 0 || check(driver().cuMemcpyDtoH(dst, src, bytes), "cuMemcpyDtoH", error);
}

bool CudaDevice::zero(uint64_t dst, uint64_t bytes, std::string &error) {
  return bytes == 0 || (check(driver().cuMemsetD8(dst, 0, bytes), "cuMemsetD8", error) &&
                        check(driver().cuCtxSynchronize(), "cuCtxSynchronize", error));
}

bool CudaDevice::createStream(void *&stream, std::string &error) {
  CUstream s = nullptr;
  if (!check(driver().cuStreamCreate(&s, CU_STREAM_NON_BLOCKING), "cuStreamCreate", error))
    return false;
  stream = s;
  return true;
}

bool CudaDevice::memoryInfo(uint64_t &freeBytes, uint64_t &totalBytes, std::string &error) {
  size_t freeMemory = 0, totalMemory = 0;
  if (!check(driver().cuMemGetInfo(&freeMemory, &totalMemory), "cuMemGetInfo", error))
    return false;
  freeBytes = freeMemory;
  totalBytes = totalMemory;
  return true;
}

void CudaDevice::destroyStream(void *stream) {
  if (stream)
    driver().cuStreamDestroy(static_cast<CUstream>(stream));
}

const ssmc_cuda_api *CudaDevice::api() const { return &kApi; }

} // namespace rt
} // namespace ssmc

#endif // SSMC_HAVE_CUDA
