/*===- fake_model.c - TEST DOUBLE of generated code for runtime tests ------===*
 *
 * NOT MODEL MATH. The compiler does not emit code yet, so the runtime tests
 * pack this shared object into artifacts instead. It implements the contract
 * of ssmc/abi.h with a trivial deterministic toy whose results are easy to
 * predict:
 *   state "acc" (i64 x 2 per sequence): running sum of token ids, count;
 *   state "kv"  (i32, one per token, grows with context): the tokens seen;
 *   logits: weight "bias" plus a pattern of a hash of (sum, kv, count), with
 *   token (hash * 7 + 3) % VOCAB boosted by 10 so greedy decoding is
 *   predictable.
 * It checks what the runtime hands it (positions agree with the state, scratch
 * is large enough, decode has seq_len 1) and reports violations as nonzero
 * return codes so tests see them.
 *
 *===----------------------------------------------------------------------===*/

#include "ssmc/abi.h"

#include <string.h>

#define FAKE_EXPORT __attribute__((visibility("default")))

#ifndef FAKE_ABI_VERSION
#define FAKE_ABI_VERSION SSMC_ABI_VERSION
#endif

enum { FAKE_VOCAB = 64, FAKE_SCRATCH_PER_TOKEN = 4, FAKE_SCRATCH_FIXED = 64 };

FAKE_EXPORT const uint32_t ssmc_abi_version = FAKE_ABI_VERSION;

typedef struct {
  const ssmc_call *call;
  int32_t error; /* first nonzero error seen by any body */
} fake_job;

static int64_t kv_row_elements(const ssmc_call *call) {
  return 0 + 1 * call->max_context; /* per_sequence 0, per_token 1 */
}

static void run_sequences(void *ctx, int64_t begin, int64_t end) {
  fake_job *job = (fake_job *)ctx;
  const ssmc_call *call = job->call;
  const float *bias = (const float *)call->weights; /* weight "bias" at 0 */
  for (int64_t i = begin; i < end; ++i) {
    int64_t *acc = (int64_t *)call->states[0] + 2 * call->slots[i];
    int32_t *kv = (int32_t *)call->states[1] +
                  kv_row_elements(call) * call->slots[i];
    if (acc[1] != call->positions[i]) {
      /* The runtime passed a position that disagrees with the state. */
      __atomic_store_n(&job->error, 3, __ATOMIC_RELAXED);
      return;
    }
    const int32_t *tokens = call->tokens + i * call->seq_len;
    for (int32_t t = 0; t < call->lengths[i]; ++t) {
      kv[acc[1]] = tokens[t];
      acc[0] += tokens[t];
      acc[1] += 1;
    }
    uint64_t kv_hash = 0;
    for (int64_t t = 0; t < acc[1]; ++t)
      kv_hash = kv_hash * 1000003u + (uint64_t)kv[t] + 1;
    uint64_t h = ((uint64_t)acc[0] * 131u + kv_hash * 17u + (uint64_t)acc[1]) %
                 2147483647u;
    float *logits = call->logits + i * FAKE_VOCAB;
    for (int v = 0; v < FAKE_VOCAB; ++v)
      logits[v] = bias[v] + (float)((v * 31 + h) % 97) / 97.0f;
    logits[(h * 7 + 3) % FAKE_VOCAB] += 10.0f;
  }
}

static int32_t run(const ssmc_call *call) {
  uint64_t needed = FAKE_SCRATCH_FIXED + (uint64_t)FAKE_SCRATCH_PER_TOKEN *
                                             call->batch * call->seq_len;
  if (call->scratch_bytes < needed || !call->scratch)
    return 4;
  memset(call->scratch, 0xAB, needed); /* must be writable */
  fake_job job = {call, 0};
  call->parallel->parallel_for(call->parallel->pool, call->batch,
                               run_sequences, &job);
  return job.error;
}

FAKE_EXPORT int32_t fake_prefill(const ssmc_call *call) { return run(call); }

FAKE_EXPORT int32_t fake_decode(const ssmc_call *call) {
  if (call->seq_len != 1)
    return 5;
  return run(call);
}

FAKE_EXPORT int32_t fake_fail(const ssmc_call *call) {
  (void)call;
  return 42;
}
