/* Runs a CUDA artifact's code section on the CPU against a fake driver table
 * (ssmc_cuda_api in host memory): kernels are not executed, but everything
 * the generated launch code and its mgpu* functions do around them is --
 * module loading with the cubin/PTX fallback, uploads, state gathering by
 * slot, launches, logits download, frees, error reporting.
 *
 * usage: fake_driver CODE.so NUM_STATES [--fail-launch K] [--fail-cubin] [--graphs]
 * Prints counters; exits 0 when the call returned as expected, every device
 * allocation was freed and no copy reached outside a device allocation.
 * --graphs: the table has the graph functions (stream capture records the
 * launches instead of running them; allocations made while capturing and
 * not freed belong to the graph until its exec is destroyed), the two
 * sequences use contiguous slots, and three more decode steps follow: the
 * first after the eager one is captured and launched, the next replayed. */
#include "ssmc/abi.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int allocs, frees, launches, loads, fail_launch_at = -1, fail_cubin;
static int capturing, captured_launches, graph_launches, graphs_live;
static long live_bytes;

static int32_t load_data(void **module, const void *image) {
  const char *s = (const char *)image;
  ++loads;
  if (memcmp(s, "\177ELF", 4) == 0 && fail_cubin)
    return 209; /* CUDA_ERROR_NO_BINARY_FOR_GPU */
  if (memcmp(s, "\177ELF", 4) != 0 && memcmp(s, "//", 2) != 0)
    return 200; /* CUDA_ERROR_INVALID_IMAGE */
  *module = (void *)0x5eed;
  return 0;
}
static int32_t unload(void *module) { return module == (void *)0x5eed ? 0 : 1; }
static int32_t get_function(void **function, void *module, const char *name) {
  if (module != (void *)0x5eed || !name || strncmp(name, "forward_kernel", 14) != 0)
    return 500; /* CUDA_ERROR_NOT_FOUND */
  *function = (void *)name;
  return 0;
}
static int32_t launch(void *function, uint32_t gx, uint32_t gy, uint32_t gz, uint32_t bx,
                      uint32_t by, uint32_t bz, uint32_t shared, void *stream, void **params,
                      void **extra) {
  (void)shared;
  (void)extra;
  if (capturing) {
    ++captured_launches;
    return function && params ? 0 : 1;
  }
  ++launches;
  if (!function || !gx || !gy || !gz || bx * by * bz == 0 || bx * by * bz > 1024 ||
      stream != (void *)0x57 || !params)
    return 1;
  return launches == fail_launch_at ? 719 /* CUDA_ERROR_LAUNCH_FAILED */ : 0;
}
/* Live device blocks, so that every copy's device side can be checked to lie
 * inside one (a real driver answers CUDA_ERROR_INVALID_VALUE otherwise). */
enum { MAX_BLOCKS = 1 << 14 };
static uint64_t block_start[MAX_BLOCKS], block_bytes[MAX_BLOCKS];
static int num_blocks, out_of_bounds;
static int inside_a_block(uint64_t p, size_t bytes) {
  for (int i = 0; i < num_blocks; ++i)
    if (p >= block_start[i] && p + bytes <= block_start[i] + block_bytes[i])
      return 1;
  fprintf(stderr, "fake driver: %zu bytes at device address %#llx are outside every allocation\n",
          bytes, (unsigned long long)p);
  ++out_of_bounds;
  return 0;
}
static uint64_t graph_owned[MAX_BLOCKS];
static int num_graph_owned;
static int32_t alloc_async(uint64_t *ptr, size_t bytes, void *stream) {
  long *block = calloc(1, bytes + 16);
  if (stream != (void *)0x57 || !block || num_blocks == MAX_BLOCKS)
    return 2;
  block[0] = (long)bytes;
  live_bytes += (long)bytes;
  ++allocs;
  *ptr = (uint64_t)(uintptr_t)(block + 2);
  block_start[num_blocks] = *ptr;
  block_bytes[num_blocks++] = bytes;
  if (capturing)
    graph_owned[num_graph_owned++] = *ptr;
  return 0;
}
static int32_t free_async(uint64_t ptr, void *stream) {
  long *block = (long *)(uintptr_t)ptr - 2;
  (void)stream;
  for (int i = 0; i < num_graph_owned; ++i)
    if (graph_owned[i] == ptr) {
      graph_owned[i] = graph_owned[--num_graph_owned];
      break;
    }
  for (int i = 0; i < num_blocks; ++i)
    if (block_start[i] == ptr) {
      block_start[i] = block_start[num_blocks - 1];
      block_bytes[i] = block_bytes[--num_blocks];
      break;
    }
  live_bytes -= block[0];
  ++frees;
  free(block);
  return 0;
}
static int32_t copy(uint64_t dst, uint64_t src, size_t bytes, void *stream) {
  (void)stream;
  if (!inside_a_block(dst, bytes) || !inside_a_block(src, bytes))
    return 1;
  memmove((void *)(uintptr_t)dst, (const void *)(uintptr_t)src, bytes);
  return 0;
}
static int32_t htod(uint64_t dst, const void *src, size_t bytes, void *stream) {
  (void)stream;
  if (!inside_a_block(dst, bytes))
    return 1;
  memmove((void *)(uintptr_t)dst, src, bytes);
  return 0;
}
static int32_t dtoh(void *dst, uint64_t src, size_t bytes, void *stream) {
  (void)stream;
  if (!inside_a_block(src, bytes))
    return 1;
  memmove(dst, (const void *)(uintptr_t)src, bytes);
  return 0;
}
static int32_t set32(uint64_t dst, uint32_t v, size_t n, void *stream) {
  (void)stream;
  for (size_t i = 0; i < n; ++i)
    ((uint32_t *)(uintptr_t)dst)[i] = v;
  return 0;
}
static int32_t set16(uint64_t dst, uint16_t v, size_t n, void *stream) {
  (void)stream;
  for (size_t i = 0; i < n; ++i)
    ((uint16_t *)(uintptr_t)dst)[i] = v;
  return 0;
}
static int32_t sync_stream(void *stream) { return stream == (void *)0x57 ? 0 : 1; }
static int32_t error_name(int32_t e, const char **name) {
  *name = e == 719 ? "CUDA_ERROR_LAUNCH_FAILED" : e == 209 ? "CUDA_ERROR_NO_BINARY_FOR_GPU"
                                                             : "CUDA_ERROR_OTHER";
  return 0;
}
static int32_t error_string(int32_t e, const char **text) {
  *text = e == 719 ? "unspecified launch failure" : "fake";
  return 0;
}

static int32_t begin_capture(void *stream) {
  if (stream != (void *)0x57 || capturing)
    return 1;
  capturing = 1;
  return 0;
}
static int32_t end_capture(void *stream, void **graph) {
  if (stream != (void *)0x57 || !capturing)
    return 1;
  capturing = 0;
  *graph = (void *)0x6a;
  return 0;
}
static int32_t instantiate(void **exec, void *graph) {
  if (graph != (void *)0x6a)
    return 1;
  *exec = (void *)0xe1;
  ++graphs_live;
  return 0;
}
static int32_t graph_launch(void *exec, void *stream) {
  if (exec != (void *)0xe1 || stream != (void *)0x57)
    return 1;
  ++graph_launches;
  return 0;
}
/* The graph's own allocations go with its exec. */
static int32_t exec_destroy(void *exec) {
  if (exec != (void *)0xe1)
    return 1;
  --graphs_live;
  while (num_graph_owned)
    free_async(graph_owned[0], (void *)0x57);
  return 0;
}
static int32_t graph_destroy(void *graph) { return graph == (void *)0x6a ? 0 : 1; }

int main(int argc, char **argv) {
  if (argc < 3)
    return 2;
  int num_states = atoi(argv[2]);
  int graphs = 0;
  for (int i = 3; i < argc; ++i) {
    if (!strcmp(argv[i], "--graphs"))
      graphs = 1;
    else if (!strcmp(argv[i], "--fail-launch") && i + 1 < argc)
      fail_launch_at = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--fail-cubin"))
      fail_cubin = 1;
  }
  void *so = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!so) {
    fprintf(stderr, "dlopen: %s\n", dlerror());
    return 1;
  }
  ssmc_entry_fn prefill = (ssmc_entry_fn)dlsym(so, "ssmc_prefill");
  ssmc_entry_fn decode = (ssmc_entry_fn)dlsym(so, "ssmc_decode");
  void (*release)(const ssmc_device *) =
      (void (*)(const ssmc_device *))dlsym(so, "ssmc_cuda_release");
  if (!prefill || !decode || !release)
    return 1;
  ssmc_cuda_api api = {load_data, unload, get_function, launch, alloc_async, free_async,
                       copy,      htod,   dtoh,         set32,  set16,       sync_stream,
                       error_name, error_string};
  if (graphs) {
    api.stream_begin_capture = begin_capture;
    api.stream_end_capture = end_capture;
    api.graph_instantiate = instantiate;
    api.graph_launch = graph_launch;
    api.graph_exec_destroy = exec_destroy;
    api.graph_destroy = graph_destroy;
  }
  char error[512] = "";
  ssmc_device device = {&api, (void *)0x57, error, sizeof error};

  /* Two sequences in slots 2 and 0 of a 3-row session; 8 tokens of context. */
  enum { CAP = 3, CTX = 8, BATCH = 2, LEN = 3, VOCAB_MAX = 1 << 16 };
  void *states[16];
  for (int s = 0; s < num_states && s < 16; ++s)
    states[s] = calloc(1, 1 << 22);
  uint8_t *weights = calloc(1, 1 << 22);
  /* The runtime's weight and state buffers are device memory too. */
  for (int s = 0; s < num_states && s < 16; ++s) {
    block_start[num_blocks] = (uint64_t)(uintptr_t)states[s];
    block_bytes[num_blocks++] = 1 << 22;
  }
  block_start[num_blocks] = (uint64_t)(uintptr_t)weights;
  block_bytes[num_blocks++] = 1 << 22;
  int32_t tokens[BATCH * LEN] = {1, 2, 3, 4, 5, 0}, lengths[BATCH] = {3, 2}, slots[BATCH] = {2, 0};
  if (graphs) { /* graphs need the rows of a batch to be contiguous */
    slots[0] = 1;
    slots[1] = 2;
  }
  int64_t positions[BATCH] = {0, 0};
  float *logits = malloc(sizeof(float) * BATCH * VOCAB_MAX);
  for (int i = 0; i < BATCH * VOCAB_MAX; ++i)
    logits[i] = -1.0f;
  ssmc_call call;
  memset(&call, 0, sizeof call);
  call.weights = weights;
  call.states = states;
  call.batch_capacity = CAP;
  call.max_context = CTX;
  call.batch = BATCH;
  call.seq_len = LEN;
  call.tokens = tokens;
  call.lengths = lengths;
  call.positions = positions;
  call.slots = slots;
  call.logits = logits;
  call.device = &device;
  int32_t rc = prefill(&call);
  printf("prefill: status %d, %d launches, %d module loads, %d allocations, %d frees, %ld bytes "
         "live, logits[0] %g\n",
         rc, launches, loads, allocs, frees, live_bytes, logits[0]);
  if (rc != 0)
    printf("error: %s\n", error);
  if (rc == 0) {
    call.seq_len = 1;
    lengths[0] = lengths[1] = 1;
    positions[0] = 3;
    positions[1] = 2;
    int before = launches;
    rc = decode(&call);
    printf("decode: status %d, %d launches, %d allocations, %d frees, %ld bytes live\n", rc,
           launches - before, allocs, frees, live_bytes);
    for (int step = 2; graphs && rc == 0 && step <= 3; ++step) {
      before = launches;
      int captured_before = captured_launches, graph_before = graph_launches;
      rc = decode(&call);
      printf("decode %d: status %d, %d launches, %d captured, %d graph launches, %d graphs\n", step,
             rc, launches - before, captured_launches - captured_before,
             graph_launches - graph_before, graphs_live);
    }
  }
  /* Without a device table the entry point refuses to run. */
  call.device = NULL;
  printf("no device table: status %d\n", prefill(&call));
  release(&device);
  if (graphs)
    printf("released: %d graphs, %d allocations, %d frees, %ld bytes live\n", graphs_live, allocs,
           frees, live_bytes);
  return (allocs == frees && live_bytes == 0 && out_of_bounds == 0 && graphs_live == 0) ? 0 : 1;
}
