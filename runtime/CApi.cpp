//===- CApi.cpp - The C API of ssmc/ssmc.h over the C++ runtime -----------===//

#include "ssmc/ssmc.h"

#include "runtime/Runtime.h"

#include <cstring>
#include <new>

using namespace ssmc::rt;

struct ssmc_model {
  std::shared_ptr<Model> model;
};

struct ssmc_session {
  std::unique_ptr<Session> session;
  std::string error; // messages of argument checks done here
};

static void copyError(const std::string &message, char *err, size_t errlen) {
  if (!err || errlen == 0)
    return;
  size_t n = std::min(message.size(), errlen - 1);
  std::memcpy(err, message.data(), n);
  err[n] = '\0';
}

static ssmc_status toC(Status status) {
  return static_cast<ssmc_status>(status);
}

extern "C" {

const char *ssmc_status_string(int32_t status) {
  switch (status) {
  case SSMC_OK: return "ok";
  case SSMC_ERR_INVALID_ARGUMENT: return "invalid argument";
  case SSMC_ERR_OUT_OF_RANGE: return "out of range";
  case SSMC_ERR_CAPACITY: return "capacity exceeded";
  case SSMC_ERR_KERNEL: return "kernel failed";
  case SSMC_ERR_OUT_OF_MEMORY: return "out of memory";
  case SSMC_ERR_LOAD: return "load failed";
  default: return "unknown status";
  }
}

ssmc_model *ssmc_model_load(const char *path, char *err, size_t errlen) {
  if (!path) {
    copyError("ssmc_model_load: path is null", err, errlen);
    return nullptr;
  }
  std::string error;
  std::shared_ptr<Model> model = Model::load(path, error);
  if (!model) {
    copyError(error, err, errlen);
    return nullptr;
  }
  ssmc_model *handle = new (std::nothrow) ssmc_model;
  if (!handle) {
    copyError("out of memory", err, errlen);
    return nullptr;
  }
  handle->model = std::move(model);
  copyError("", err, errlen);
  return handle;
}

void ssmc_model_free(ssmc_model *model) { delete model; }

ssmc_status ssmc_model_info(const ssmc_model *model, ssmc_info *info) {
  if (!model || !info)
    return SSMC_ERR_INVALID_ARGUMENT;
  const Manifest &m = model->model->manifest();
  info->vocab_size = static_cast<int32_t>(m.vocabSize);
  info->num_states = static_cast<int32_t>(m.states.size());
  info->family = m.family.c_str();
  info->target = m.target.c_str();
  info->dtype = m.dtype.c_str();
  info->ssmc_version = m.ssmcVersion.c_str();
  info->manifest_json = model->model->artifact().manifestText().c_str();
  return SSMC_OK;
}

int32_t ssmc_model_weight_count(const ssmc_model *model) {
  return model ? static_cast<int32_t>(model->model->manifest().weights.size()) : 0;
}

ssmc_status ssmc_model_weight_info(const ssmc_model *model, int32_t index,
                                   ssmc_weight_info *info) {
  if (!model || !info || index < 0 || index >= ssmc_model_weight_count(model))
    return SSMC_ERR_INVALID_ARGUMENT;
  const WeightSpec &w = model->model->manifest().weights[index];
  info->name = w.name.c_str();
  info->dtype = w.dtype.c_str();
  info->shape = w.shape.data();
  info->rank = static_cast<int32_t>(w.shape.size());
  info->offset = w.offset;
  info->bytes = w.bytes;
  return SSMC_OK;
}

const char *ssmc_model_hyper_parameter(const ssmc_model *model, const char *key) {
  if (!model || !key)
    return nullptr;
  const JsonValue *v = model->model->manifest().hyperParameters.find(key);
  return v && v->isString() ? v->getString().c_str() : nullptr;
}

double ssmc_model_synthesis_seconds(const ssmc_model *model) {
  return model ? model->model->synthesisSeconds() : 0.0;
}

ssmc_status ssmc_device_memory(const ssmc_model *model, uint64_t *free_bytes,
                               uint64_t *total_bytes) {
  if (!model || !free_bytes || !total_bytes || !model->model->cudaDevice())
    return SSMC_ERR_INVALID_ARGUMENT;
  std::string error;
  const std::shared_ptr<CudaDevice> &cuda = model->model->cudaDevice();
  if (!cuda->makeCurrent(error) || !cuda->memoryInfo(*free_bytes, *total_bytes, error))
    return SSMC_ERR_KERNEL;
  return SSMC_OK;
}

ssmc_session *ssmc_session_create(ssmc_model *model, int32_t batch_capacity,
                                  int64_t max_context, int32_t num_threads,
                                  char *err, size_t errlen) {
  if (!model) {
    copyError("ssmc_session_create: model is null", err, errlen);
    return nullptr;
  }
  std::string error;
  std::unique_ptr<Session> session = Session::create(
      model->model, batch_capacity, max_context, num_threads, error);
  if (!session) {
    copyError(error, err, errlen);
    return nullptr;
  }
  ssmc_session *handle = new (std::nothrow) ssmc_session;
  if (!handle) {
    copyError("out of memory", err, errlen);
    return nullptr;
  }
  handle->session = std::move(session);
  copyError("", err, errlen);
  return handle;
}

void ssmc_session_free(ssmc_session *session) { delete session; }

ssmc_status ssmc_prefill(ssmc_session *session, int32_t n_seqs,
                         const int32_t *slots, const int32_t *const *tokens,
                         const int32_t *lengths, float *logits_out) {
  if (!session)
    return SSMC_ERR_INVALID_ARGUMENT;
  return toC(session->session->prefill(n_seqs, slots, tokens, lengths,
                                       logits_out));
}

ssmc_status ssmc_decode(ssmc_session *session, int32_t n_seqs,
                        const int32_t *slots, const int32_t *tokens,
                        float *logits_out) {
  if (!session)
    return SSMC_ERR_INVALID_ARGUMENT;
  return toC(session->session->decode(n_seqs, slots, tokens, logits_out));
}

int32_t ssmc_sample(const float *logits, int32_t vocab, float temperature,
                    float top_p, uint64_t *rng_state) {
  return sampleToken(logits, vocab, temperature, top_p, rng_state);
}

uint64_t ssmc_state_size(const ssmc_session *session) {
  return session ? session->session->stateSize() : 0;
}

ssmc_status ssmc_state_save(ssmc_session *session, int32_t slot, void *buf) {
  if (!session)
    return SSMC_ERR_INVALID_ARGUMENT;
  return toC(session->session->saveState(slot, buf));
}

ssmc_status ssmc_state_restore(ssmc_session *session, int32_t slot,
                               const void *buf) {
  if (!session)
    return SSMC_ERR_INVALID_ARGUMENT;
  return toC(session->session->restoreState(slot, buf));
}

ssmc_status ssmc_state_reset(ssmc_session *session, int32_t slot) {
  if (!session)
    return SSMC_ERR_INVALID_ARGUMENT;
  return toC(session->session->resetState(slot));
}

ssmc_status ssmc_state_set_position(ssmc_session *session, int32_t slot,
                                    int64_t position) {
  if (!session)
    return SSMC_ERR_INVALID_ARGUMENT;
  return toC(session->session->setPosition(slot, position));
}

int64_t ssmc_state_position(const ssmc_session *session, int32_t slot) {
  return session ? session->session->position(slot) : -1;
}

const char *ssmc_last_error(const ssmc_session *session) {
  if (!session)
    return "session is null";
  return session->session->lastError().c_str();
}

} // extern "C"
