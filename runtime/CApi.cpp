//===- CApi.cpp - the C API of include/mbrt/mbrt.h ------------------------===//
//
// The only place exceptions are caught: each entry turns a RuntimeError (or
// std::bad_alloc) into a status and stores the message on the handle.
//
//===----------------------------------------------------------------------===//
#include "mbrt/mbrt.h"

#include "Model.h"
#include "RuntimeError.h"
#include "Sampler.h"
#include "Session.h"

#include "mbc/ArtifactFormat.h"

#include <cstring>
#include <new>

struct mbrt_model {
  std::unique_ptr<mbrt::Model> model; // null when loading failed
  std::string error;
};

struct mbrt_session {
  std::unique_ptr<mbrt::Session> session; // null when creation failed
  const mbrt::Model *model = nullptr;
  std::string error;
};

namespace {

/// Runs `body`, storing any failure's message in `error`.
template <typename Body> mbrt_status guarded(std::string &error, Body body) {
  try {
    body();
    error.clear();
    return MBRT_OK;
  } catch (const mbrt::RuntimeError &failure) {
    error = failure.what();
    return failure.status();
  } catch (const std::bad_alloc &) {
    error = "out of memory";
    return MBRT_ERROR_OUT_OF_MEMORY;
  } catch (const std::exception &failure) {
    error = std::string("internal error: ") + failure.what();
    return MBRT_ERROR_INTERNAL;
  }
}

const mbrt::ModelMetadata *metadataOf(const mbrt_model *model) {
  return model && model->model ? &model->model->metadata() : nullptr;
}

} // namespace

extern "C" {

const char *mbrt_status_name(mbrt_status status) {
  switch (status) {
  case MBRT_OK:
    return "ok";
  case MBRT_ERROR_INVALID_ARGUMENT:
    return "invalid argument";
  case MBRT_ERROR_IO:
    return "input/output error";
  case MBRT_ERROR_FORMAT:
    return "malformed artifact";
  case MBRT_ERROR_UNSUPPORTED_VERSION:
    return "unsupported artifact version";
  case MBRT_ERROR_WEIGHTS:
    return "weights do not match";
  case MBRT_ERROR_CODE:
    return "compiled code cannot be loaded";
  case MBRT_ERROR_MAX_LENGTH:
    return "maximum sequence length reached";
  case MBRT_ERROR_NO_DEVICE:
    return "no such device";
  case MBRT_ERROR_UNSUPPORTED:
    return "unsupported";
  case MBRT_ERROR_OUT_OF_MEMORY:
    return "out of memory";
  case MBRT_ERROR_INTERNAL:
    return "internal error";
  }
  return "unknown status";
}

const char *mbrt_runtime_version(void) { return "mbrt 0.1.0"; }

uint32_t mbrt_supported_format_version(void) { return MBX_FORMAT_VERSION; }

mbrt_model_options mbrt_model_default_options(void) {
  mbrt_model_options options;
  options.device = MBRT_DEVICE_AUTO;
  options.weights_path = nullptr;
  return options;
}

mbrt_status mbrt_model_load(const char *path, const mbrt_model_options *options,
                            mbrt_model **out_model) {
  if (!out_model)
    return MBRT_ERROR_INVALID_ARGUMENT;
  *out_model = new (std::nothrow) mbrt_model;
  if (!*out_model)
    return MBRT_ERROR_OUT_OF_MEMORY;
  mbrt_model *model = *out_model;
  return guarded(model->error, [&] {
    if (!path)
      mbrt::fail(MBRT_ERROR_INVALID_ARGUMENT, "model path is NULL");
    mbrt_model_options chosen =
        options ? *options : mbrt_model_default_options();
    model->model = std::make_unique<mbrt::Model>(path, chosen);
  });
}

void mbrt_model_free(mbrt_model *model) { delete model; }

const char *mbrt_model_error(const mbrt_model *model) {
  return model ? model->error.c_str() : "model handle is NULL";
}

uint32_t mbrt_model_format_version(const mbrt_model *model) {
  return model && model->model ? model->model->formatVersion() : 0;
}

int32_t mbrt_model_vocab_size(const mbrt_model *model) {
  const mbrt::ModelMetadata *meta = metadataOf(model);
  return meta ? meta->vocabSize : 0;
}

int32_t mbrt_model_pad_id(const mbrt_model *model) {
  const mbrt::ModelMetadata *meta = metadataOf(model);
  return meta ? meta->padId : 0;
}

int64_t mbrt_model_max_length(const mbrt_model *model) {
  const mbrt::ModelMetadata *meta = metadataOf(model);
  return meta ? meta->maxLength : 0;
}

static int64_t scoreShape(const mbrt_model *model, size_t dimension) {
  const mbrt::ModelMetadata *meta = metadataOf(model);
  const mbrt::EntryPoint *score = meta ? meta->findEntry("score") : nullptr;
  if (!score)
    return 0;
  return score->args[score->findArg("bytes")].shape[dimension];
}

int64_t mbrt_model_score_window(const mbrt_model *model) {
  return scoreShape(model, 1);
}

int64_t mbrt_model_score_batch(const mbrt_model *model) {
  return scoreShape(model, 0);
}

int mbrt_model_can_generate(const mbrt_model *model) {
  const mbrt::ModelMetadata *meta = metadataOf(model);
  return meta && meta->hasGeneration && meta->vocabSize <= 256;
}

const char *mbrt_model_metadata(const mbrt_model *model, size_t *size) {
  const mbrt::ModelMetadata *meta = metadataOf(model);
  if (size)
    *size = meta ? meta->text.size() : 0;
  return meta ? meta->text.data() : nullptr;
}

const char *mbrt_model_weights_path(const mbrt_model *model) {
  if (!model || !model->model || model->model->weightsPath().empty())
    return nullptr;
  return model->model->weightsPath().c_str();
}

mbrt_device mbrt_model_device(const mbrt_model *model) {
  return model && model->model ? model->model->device() : MBRT_DEVICE_AUTO;
}

const char *mbrt_model_device_description(const mbrt_model *model) {
  return model && model->model ? model->model->deviceDescription().c_str() : "";
}

mbrt_session_options mbrt_session_default_options(void) {
  mbrt_session_options options;
  options.threads = 0;
  return options;
}

mbrt_status mbrt_session_create(const mbrt_model *model,
                                const mbrt_session_options *options,
                                mbrt_session **out_session) {
  if (!out_session)
    return MBRT_ERROR_INVALID_ARGUMENT;
  *out_session = nullptr;
  if (!model)
    return MBRT_ERROR_INVALID_ARGUMENT;
  *out_session = new (std::nothrow) mbrt_session;
  if (!*out_session)
    return MBRT_ERROR_OUT_OF_MEMORY;
  mbrt_session *session = *out_session;
  return guarded(session->error, [&] {
    if (!model->model)
      mbrt::fail(MBRT_ERROR_INVALID_ARGUMENT,
                 "the model failed to load: " + model->error);
    if (model->model->device() == MBRT_DEVICE_NONE)
      mbrt::fail(MBRT_ERROR_UNSUPPORTED,
                 model->model->path() +
                     ": the model was loaded for inspection only "
                     "(MBRT_DEVICE_NONE); load it for a CPU or CUDA device "
                     "to run it");
    int threads = options ? options->threads : 0;
    if (threads < 0 || threads > 4096)
      mbrt::fail(MBRT_ERROR_INVALID_ARGUMENT,
                 "threads must be in [0, 4096] (0: all hardware threads), "
                 "got " +
                     std::to_string(threads));
    session->model = model->model.get();
    session->session = std::make_unique<mbrt::Session>(*model->model, threads);
  });
}

void mbrt_session_free(mbrt_session *session) { delete session; }

const char *mbrt_session_error(const mbrt_session *session) {
  return session ? session->error.c_str() : "session handle is NULL";
}

int32_t mbrt_session_threads(const mbrt_session *session) {
  return session && session->session ? session->session->threads() : 0;
}

static void requireUsable(const mbrt_session *session) {
  if (!session->session)
    mbrt::fail(MBRT_ERROR_INVALID_ARGUMENT,
               "the session was not created: " + session->error);
}

mbrt_status mbrt_session_score(mbrt_session *session, const uint8_t *bytes,
                               size_t size, float *byte_logprobs,
                               float *logprob_rows, double *bits_per_byte) {
  if (!session)
    return MBRT_ERROR_INVALID_ARGUMENT;
  return guarded(session->error, [&] {
    requireUsable(session);
    if (!bytes && size > 0)
      mbrt::fail(MBRT_ERROR_INVALID_ARGUMENT, "bytes is NULL");
    double bpb =
        session->session->score(bytes, size, byte_logprobs, logprob_rows);
    if (bits_per_byte)
      *bits_per_byte = bpb;
  });
}

mbrt_sampler_options mbrt_sampler_default_options(void) {
  mbrt_sampler_options options;
  options.kind = MBRT_SAMPLER_GREEDY;
  options.temperature = 1.0;
  options.top_k = 0;
  options.top_p = 1.0;
  options.filter_thres = 0.9;
  options.seed = 0;
  return options;
}

mbrt_status mbrt_session_generate(mbrt_session *session, const uint8_t *prompt,
                                  size_t prompt_size, size_t count,
                                  const mbrt_sampler_options *sampler,
                                  mbrt_byte_callback on_byte, void *user_data,
                                  uint8_t *out_bytes, size_t *out_generated) {
  if (out_generated)
    *out_generated = 0;
  if (!session)
    return MBRT_ERROR_INVALID_ARGUMENT;
  size_t generated = 0;
  mbrt_status status = guarded(session->error, [&] {
    requireUsable(session);
    if (!prompt && prompt_size > 0)
      mbrt::fail(MBRT_ERROR_INVALID_ARGUMENT, "prompt is NULL");
    mbrt_sampler_options chosen =
        sampler ? *sampler : mbrt_sampler_default_options();
    session->session->generate(prompt, prompt_size, count, chosen, on_byte,
                               user_data, out_bytes, generated);
  });
  if (out_generated)
    *out_generated = generated;
  return status;
}

mbrt_status mbrt_sample(const mbrt_sampler_options *sampler,
                        const float *logprobs, int32_t vocab_size,
                        int64_t position, int32_t *out_token, char *message,
                        size_t message_size) {
  std::string error;
  mbrt_status status = guarded(error, [&] {
    if (!sampler || !logprobs || !out_token)
      mbrt::fail(MBRT_ERROR_INVALID_ARGUMENT,
                 "sampler, logprobs and out_token must not be NULL");
    if (vocab_size < 1)
      mbrt::fail(MBRT_ERROR_INVALID_ARGUMENT,
                 "vocab_size must be >= 1, got " + std::to_string(vocab_size));
    std::string problem = mbrt::checkSamplerOptions(*sampler);
    if (!problem.empty())
      mbrt::fail(MBRT_ERROR_INVALID_ARGUMENT, "sampler: " + problem);
    std::vector<int32_t> scratch;
    *out_token =
        mbrt::sampleToken(*sampler, logprobs, vocab_size, position, scratch);
  });
  if (message && message_size > 0) {
    size_t length = std::min(error.size(), message_size - 1);
    std::memcpy(message, error.data(), length);
    message[length] = '\0';
  }
  return status;
}

} // extern "C"
