/*===- ssmc/ssmc.h - C API of the ssmc runtime ----------------------------===*
 *
 * Loads a compiled model artifact (.ssmx), runs batched prefill and decode on
 * per-sequence recurrent state, and samples tokens.
 *
 * Typical use:
 *   char err[512];
 *   ssmc_model *m = ssmc_model_load("model.ssmx", err, sizeof err);
 *   ssmc_session *s = ssmc_session_create(m, 4, 4096, 0, err, sizeof err);
 *   int32_t slot = 0, len = n_prompt;
 *   const int32_t *toks = prompt;
 *   ssmc_prefill(s, 1, &slot, &toks, &len, logits);   // logits: vocab floats
 *   int32_t next = ssmc_sample(logits, vocab, 0.0f, 1.0f, &rng);
 *   ssmc_decode(s, 1, &slot, &next, logits);
 *   ...
 *   ssmc_session_free(s); ssmc_model_free(m);
 *
 * Slots: a session holds batch_capacity independent sequences ("slots").
 * Each slot remembers how many tokens it has processed; prefill and decode
 * continue from there, ssmc_state_reset starts it over. One call may touch
 * any subset of slots (each at most once), with prompts of different lengths.
 *
 * Errors: functions return an ssmc_status; nothing aborts. Load and session
 * creation write a message into err (if non-null); the other session calls
 * keep theirs for ssmc_last_error. A session is not thread-safe: use one
 * session per thread or serialize calls. A model may be shared by sessions
 * and may be freed before them (sessions keep it alive).
 *
 *===----------------------------------------------------------------------===*/

#ifndef SSMC_SSMC_H
#define SSMC_SSMC_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#define SSMC_API
#else
#define SSMC_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ssmc_status {
  SSMC_OK = 0,
  SSMC_ERR_INVALID_ARGUMENT = 1, /* null pointer, bad length, bad buffer */
  SSMC_ERR_OUT_OF_RANGE = 2,     /* token outside [0, vocab), bad slot id */
  SSMC_ERR_CAPACITY = 3,         /* batch > capacity, context > max */
  SSMC_ERR_KERNEL = 4,           /* generated code reported a failure */
  SSMC_ERR_OUT_OF_MEMORY = 5,
  SSMC_ERR_LOAD = 6
} ssmc_status;

typedef struct ssmc_model ssmc_model;
typedef struct ssmc_session ssmc_session;

/* Returns a human-readable name of a status code. */
SSMC_API const char *ssmc_status_string(int32_t status);

/* Maps and validates an artifact (header, checksums, manifest, target CPU)
 * and loads its code. NULL on failure, with the reason in err. */
SSMC_API ssmc_model *ssmc_model_load(const char *path, char *err,
                                     size_t errlen);
SSMC_API void ssmc_model_free(ssmc_model *model);

typedef struct ssmc_info {
  int32_t vocab_size;
  int32_t num_states;        /* recurrent state buffers per sequence */
  const char *family;        /* "llamba", "mamba2", "llama", ... */
  const char *target;        /* "host-x86_64", "aarch64", ... */
  const char *dtype;         /* compute dtype, "f32", "bf16", ... */
  const char *ssmc_version;  /* compiler version that wrote the artifact */
  const char *manifest_json; /* the complete manifest */
} ssmc_info;

/* Fills *info. Strings stay valid while the model (or a session of it)
 * lives. */
SSMC_API ssmc_status ssmc_model_info(const ssmc_model *model,
                                     ssmc_info *info);

/* The weights of the model as its manifest lists them (the weight section
 * the code reads). Strings and shape stay valid while the model lives. */
typedef struct ssmc_weight_info {
  const char *name;
  const char *dtype;    /* "f32", "bf16", ... */
  const int64_t *shape; /* rank entries */
  int32_t rank;
  uint64_t offset;      /* within the weight section */
  uint64_t bytes;
} ssmc_weight_info;

/* Number of weights; 0 for null. */
SSMC_API int32_t ssmc_model_weight_count(const ssmc_model *model);
/* Fills *info for weight `index` in [0, ssmc_model_weight_count). */
SSMC_API ssmc_status ssmc_model_weight_info(const ssmc_model *model,
                                            int32_t index,
                                            ssmc_weight_info *info);
/* The manifest's hyper_parameters[key] when it is a string (e.g. "embedding"
 * and "lm_head": the names of those weights), NULL otherwise. Valid while
 * the model lives. */
SSMC_API const char *ssmc_model_hyper_parameter(const ssmc_model *model,
                                                const char *key);

/* Seconds the load spent synthesizing the weights (artifacts compiled with
 * --synthetic-weights: the runtime fills them from the manifest's seed, and
 * for CUDA artifacts uploads them); 0 for artifacts that store them. */
SSMC_API double ssmc_model_synthesis_seconds(const ssmc_model *model);

/* CUDA artifacts: the device's free and total memory now (cuMemGetInfo),
 * e.g. to see what sessions and calls use. SSMC_ERR_INVALID_ARGUMENT for
 * models that run on the host or null arguments. */
SSMC_API ssmc_status ssmc_device_memory(const ssmc_model *model,
                                        uint64_t *free_bytes,
                                        uint64_t *total_bytes);

/* batch_capacity: slots; max_context: tokens per slot; num_threads <= 0
 * uses every hardware thread. States start zeroed (all slots reset). */
SSMC_API ssmc_session *ssmc_session_create(ssmc_model *model,
                                           int32_t batch_capacity,
                                           int64_t max_context,
                                           int32_t num_threads, char *err,
                                           size_t errlen);
SSMC_API void ssmc_session_free(ssmc_session *session);

/* Feeds tokens[i][0 .. lengths[i]) to slot slots[i] for i < n_seqs and
 * writes the logits after each sequence's last token to
 * logits_out[i * vocab .. +vocab). lengths[i] >= 1. On a non-OK status no
 * slot has changed, except for SSMC_ERR_KERNEL, after which the slots of the
 * call must be reset or restored. */
SSMC_API ssmc_status ssmc_prefill(ssmc_session *session, int32_t n_seqs,
                                  const int32_t *slots,
                                  const int32_t *const *tokens,
                                  const int32_t *lengths, float *logits_out);

/* One token per slot: tokens[i] goes to slots[i]. */
SSMC_API ssmc_status ssmc_decode(ssmc_session *session, int32_t n_seqs,
                                 const int32_t *slots, const int32_t *tokens,
                                 float *logits_out);

/* Greedy (argmax) when temperature <= 0; otherwise samples from
 * softmax(logits / temperature) restricted to the smallest most-likely set
 * whose probability reaches top_p (top_p >= 1 keeps every token). The
 * generator is splitmix64 over *rng_state (any seed), so draws are
 * reproducible across machines. Returns the token id, or -1 for invalid
 * arguments (null logits, vocab <= 0, top_p <= 0 or NaN, all-NaN logits,
 * null rng_state when sampling). */
SSMC_API int32_t ssmc_sample(const float *logits, int32_t vocab,
                             float temperature, float top_p,
                             uint64_t *rng_state);

/* Bytes needed to save one slot (its position and its row of every state
 * buffer, KV cache rows included). Fixed per session. 0 for null. */
SSMC_API uint64_t ssmc_state_size(const ssmc_session *session);
/* Copies a slot's state out / in: rollback for speculative decoding, prompt
 * caching, moving a sequence between slots of sessions with the same model
 * and max_context. restore checks that the buffer fits this session. */
SSMC_API ssmc_status ssmc_state_save(ssmc_session *session, int32_t slot,
                                     void *buf);
SSMC_API ssmc_status ssmc_state_restore(ssmc_session *session, int32_t slot,
                                        const void *buf);
/* Zeroes a slot's state and its position. */
SSMC_API ssmc_status ssmc_state_reset(ssmc_session *session, int32_t slot);
/* Moves a slot to `position` (0 <= position <= max_context) and leaves its
 * state rows as they are, so that later steps attend to whatever the KV
 * rows hold: for measuring decode steps deep into a context without
 * prefilling it (`ssmc bench --skip-prefill`). */
SSMC_API ssmc_status ssmc_state_set_position(ssmc_session *session,
                                             int32_t slot, int64_t position);
/* Tokens processed by a slot since its last reset; -1 for a bad slot. */
SSMC_API int64_t ssmc_state_position(const ssmc_session *session,
                                     int32_t slot);

/* Message of the last failed call on this session ("" if none); valid until
 * the next call on the session. */
SSMC_API const char *ssmc_last_error(const ssmc_session *session);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* SSMC_SSMC_H */
