/*===- ssmc/abi.h - Contract between generated code and the runtime -------===*
 *
 * The code section of an .ssmx artifact is a shared object (ELF) produced by
 * the ssmc compiler. The runtime dlopen()s it and calls its entry points with
 * the structures below. This header is the whole contract; it is C so that
 * any code generator (MLIR's LLVM dialect, hand-written C for tests) can meet
 * it.
 *
 * Exports required from the shared object:
 *   const uint32_t ssmc_abi_version;      equal to SSMC_ABI_VERSION
 *   int32_t <prefill>(const ssmc_call *); named by manifest entry_points.prefill
 *   int32_t <decode>(const ssmc_call *);  named by manifest entry_points.decode
 *
 * Semantics of one call (prefill and decode share it; decode has seq_len 1):
 *   For every i in [0, batch): sequence i owns state row slots[i] of every
 *   state buffer. It has already processed positions[i] tokens (0 after a
 *   reset). The call consumes tokens[i*seq_len + 0 .. lengths[i]-1], updates
 *   the state row so it reflects positions[i] + lengths[i] tokens, and writes
 *   the logits after the last valid token to logits[i*vocab .. +vocab).
 *   Tokens past lengths[i] are padding (value 0) and must not affect state.
 *   1 <= lengths[i] <= seq_len, positions[i] + lengths[i] <= max_context,
 *   slots are distinct and < batch_capacity; the runtime guarantees all this
 *   before calling, so generated code need not re-check.
 *
 * State layout: state buffer s (manifest order) holds batch_capacity rows.
 *   Row bytes = element_size(s.dtype) * (s.per_sequence_elements +
 *   (s.grows_with_context ? s.per_token_elements * max_context : 0)).
 *   Rows are contiguous; row r starts at states[s] + r * row_bytes. A growing
 *   state (KV cache) stores the entry of token t at per_sequence_elements +
 *   t * per_token_elements within its row. Buffers are 64-byte aligned and
 *   zero after a reset.
 *
 * Scratch: at least scratch_fixed + scratch_per_token * batch * seq_len bytes
 *   (manifest "scratch"), 64-byte aligned, contents undefined on entry.
 *
 * Threads: generated code may split work with parallel->parallel_for; the
 *   runtime runs body(ctx, begin, end) over disjoint ranges covering [0, n)
 *   and returns when all are done. Nested parallel_for calls run serially.
 *
 * Return value: 0 on success; any other value is reported to the user as a
 *   kernel failure with that code. Entry points must not call exit/abort.
 *
 * Device targets (manifest target "cuda-sm80", "cuda-sm90"): the shared
 *   object is host code that drives the GPU through `device`, which the
 *   runtime fills (it is NULL for CPU targets). Then `weights` and every
 *   `states[s]` are device addresses (CUdeviceptr values); tokens, lengths,
 *   positions, slots and logits stay host memory and the generated code
 *   moves what it needs. All work of a call is ordered on `device->stream`;
 *   the entry point returns after it has finished (logits are in host
 *   memory). On failure it writes which driver call failed, with the error's
 *   name and string, into `device->error` (NUL-terminated, at most
 *   error_bytes) and returns non-zero. Generated code may also export
 *   `void ssmc_cuda_release(const ssmc_device *)`, which the runtime calls
 *   before it drops the context, to unload its modules.
 *
 *===----------------------------------------------------------------------===*/

#ifndef SSMC_ABI_H
#define SSMC_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on any incompatible change of the structures or semantics below. */
#define SSMC_ABI_VERSION 3u

/* The symbol generated code exports to state the ABI it was built for. */
#define SSMC_ABI_VERSION_SYMBOL "ssmc_abi_version"

typedef void (*ssmc_parallel_body)(void *ctx, int64_t begin, int64_t end);

typedef struct ssmc_parallel {
  /* Runs body over [0, n) split into at most num_threads ranges. */
  void (*parallel_for)(void *pool, int64_t n, ssmc_parallel_body body,
                       void *ctx);
  void *pool;
  int32_t num_threads;
} ssmc_parallel;

/* CUDA driver API entry points the runtime resolves from libcuda.so.1 and
 * hands to generated code, spelled without cuda.h: CUresult is int32_t,
 * CUdeviceptr uint64_t, CUmodule/CUfunction/CUstream void*. Each member
 * behaves as the driver function in its comment. */
typedef struct ssmc_cuda_api {
  int32_t (*module_load_data)(void **module, const void *image);      /* cuModuleLoadData */
  int32_t (*module_unload)(void *module);                             /* cuModuleUnload */
  int32_t (*module_get_function)(void **function, void *module,
                                 const char *name);                   /* cuModuleGetFunction */
  int32_t (*launch_kernel)(void *function, uint32_t grid_x, uint32_t grid_y,
                           uint32_t grid_z, uint32_t block_x, uint32_t block_y,
                           uint32_t block_z, uint32_t shared_bytes, void *stream,
                           void **params, void **extra);              /* cuLaunchKernel */
  int32_t (*mem_alloc_async)(uint64_t *ptr, size_t bytes, void *stream); /* cuMemAllocAsync */
  int32_t (*mem_free_async)(uint64_t ptr, void *stream);              /* cuMemFreeAsync */
  int32_t (*memcpy_async)(uint64_t dst, uint64_t src, size_t bytes,
                          void *stream);                              /* cuMemcpyAsync */
  int32_t (*memcpy_htod_async)(uint64_t dst, const void *src, size_t bytes,
                               void *stream);                         /* cuMemcpyHtoDAsync */
  int32_t (*memcpy_dtoh_async)(void *dst, uint64_t src, size_t bytes,
                               void *stream);                         /* cuMemcpyDtoHAsync */
  int32_t (*memset_d32_async)(uint64_t dst, uint32_t value, size_t count,
                              void *stream);                          /* cuMemsetD32Async */
  int32_t (*memset_d16_async)(uint64_t dst, uint16_t value, size_t count,
                              void *stream);                          /* cuMemsetD16Async */
  int32_t (*stream_synchronize)(void *stream);                        /* cuStreamSynchronize */
  int32_t (*get_error_name)(int32_t error, const char **name);        /* cuGetErrorName */
  int32_t (*get_error_string)(int32_t error, const char **text);      /* cuGetErrorString */
  /* CUDA graphs; generated code uses them only when all are non-NULL. */
  int32_t (*stream_begin_capture)(void *stream); /* cuStreamBeginCapture, thread-local mode */
  int32_t (*stream_end_capture)(void *stream, void **graph);         /* cuStreamEndCapture */
  int32_t (*graph_instantiate)(void **exec, void *graph); /* cuGraphInstantiateWithFlags,
                                                             auto-free on launch */
  int32_t (*graph_launch)(void *exec, void *stream);                  /* cuGraphLaunch */
  int32_t (*graph_exec_destroy)(void *exec);                          /* cuGraphExecDestroy */
  int32_t (*graph_destroy)(void *graph);                              /* cuGraphDestroy */
} ssmc_cuda_api;

/* Element types of ssmc_device.gemm. */
#define SSMC_DTYPE_F32 0
#define SSMC_DTYPE_BF16 1
#define SSMC_DTYPE_F16 2

typedef struct ssmc_device {
  const ssmc_cuda_api *cuda;
  void *stream;         /* CUstream of the session */
  char *error;          /* filled by generated code on failure */
  uint64_t error_bytes;
  /* The vendor matrix product (cuBLAS), or NULL when the runtime found none.
   * On `stream`, row-major, f32 accumulation of
   *   P[i][j] = sum_k x[i*ldx + k] * w[j*ldw + k]   for i < m, j < n,
   * x and w of the given SSMC_DTYPE_*, all device addresses. With
   * `accumulate` the f32 output gets out[i*ldo + j] += P[i][j]; without it
   * out[i*ldo + j] = P[i][j] rounded once to `out_dtype` (what a model's
   * rounded projection needs: no zero fill, no f32 temporary). Returns 0 when
   * queued, 1 when these operands are not supported (the caller computes the
   * product itself), anything else on failure, with the message in `error`. */
  int32_t (*gemm)(const struct ssmc_device *device, int32_t x_dtype, int32_t w_dtype,
                  int32_t out_dtype, int32_t accumulate, int64_t m, int64_t n, int64_t k,
                  uint64_t x, int64_t ldx, uint64_t w, int64_t ldw, uint64_t out, int64_t ldo);
} ssmc_device;

typedef struct ssmc_call {
  const uint8_t *weights;   /* base of the weight section (64-byte aligned) */
  void *const *states;      /* one buffer per manifest state, see layout */
  int64_t batch_capacity;   /* rows in every state buffer */
  int64_t max_context;      /* capacity in tokens of growing states */
  int64_t batch;            /* sequences in this call */
  int64_t seq_len;          /* tokens per sequence in this call (padded) */
  const int32_t *tokens;    /* [batch][seq_len] */
  const int32_t *lengths;   /* [batch] valid tokens per sequence */
  const int64_t *positions; /* [batch] tokens already processed */
  const int32_t *slots;     /* [batch] state row of each sequence */
  float *logits;            /* [batch][vocab] */
  void *scratch;
  uint64_t scratch_bytes;
  const ssmc_parallel *parallel;
  const ssmc_device *device; /* device targets only, else NULL */
} ssmc_call;

typedef int32_t (*ssmc_entry_fn)(const ssmc_call *call);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* SSMC_ABI_H */
