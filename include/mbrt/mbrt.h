/*===- mbrt.h - the C API of libmbrt, the mbc runtime ----------*- C -*-===
 *
 * libmbrt loads a .mbx artifact written by `mbc` (docs/artifact.md), scores
 * byte sequences and generates bytes with it (docs/runtime.md).
 *
 * Shape of the API (learn it in an afternoon):
 *  - Two opaque handles: an `mbrt_model` (an immutable loaded artifact: mapped
 *    file, bound weights, loaded code) and an `mbrt_session` (the mutable
 *    state of one user of a model: buffers, KV caches, a thread pool).
 *  - Every function that can fail returns an `mbrt_status`. The message of
 *    the last failure is kept on the handle the call was about:
 *    mbrt_model_error() / mbrt_session_error(). Like sqlite3_open, the
 *    constructors hand back a handle even when they fail (unless memory ran
 *    out), so the message can be read; free it as usual.
 *  - No hidden global state, no abort/exit on bad input, explicit sizes.
 *  - Threads: a loaded model may be shared by any number of sessions on any
 *    number of threads. A session must be used by one thread at a time.
 *
 * Minimal use:
 *   mbrt_model *model;
 *   mbrt_model_options options = mbrt_model_default_options();
 *   if (mbrt_model_load("model.mbx", &options, &model) != MBRT_OK)
 *     fprintf(stderr, "%s\n", mbrt_model_error(model));
 *   mbrt_session *session;
 *   mbrt_session_options session_options = mbrt_session_default_options();
 *   mbrt_session_create(model, &session_options, &session);
 *   double bpb;
 *   mbrt_session_score(session, bytes, size, NULL, NULL, &bpb);
 *   mbrt_session_free(session);
 *   mbrt_model_free(model);
 *
 *===----------------------------------------------------------------------===*/
#ifndef MBRT_MBRT_H
#define MBRT_MBRT_H

#include <stddef.h>
#include <stdint.h>

/* C names, llama.cpp style. NOLINTBEGIN(readability-identifier-naming) */
#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define MBRT_API __attribute__((visibility("default")))
#else
#define MBRT_API
#endif

typedef enum mbrt_status {
  MBRT_OK = 0,
  /* A NULL handle or pointer, an option out of range, a byte outside the
     vocabulary, a model that failed to load. */
  MBRT_ERROR_INVALID_ARGUMENT = 1,
  /* A file could not be opened, read or mapped. */
  MBRT_ERROR_IO = 2,
  /* The artifact is malformed: header, section table, checksum, META. */
  MBRT_ERROR_FORMAT = 3,
  /* The artifact's format version is newer than this runtime's. */
  MBRT_ERROR_UNSUPPORTED_VERSION = 4,
  /* The weights (embedded or an external safetensors file) do not match
     what the artifact expects. */
  MBRT_ERROR_WEIGHTS = 5,
  /* The compiled code could not be loaded or lacks an entry point. */
  MBRT_ERROR_CODE = 6,
  /* Generation reached the model's maximum sequence length. */
  MBRT_ERROR_MAX_LENGTH = 7,
  /* The requested device does not exist here (e.g. no CUDA device). */
  MBRT_ERROR_NO_DEVICE = 8,
  /* The artifact or the request needs something this runtime lacks. */
  MBRT_ERROR_UNSUPPORTED = 9,
  MBRT_ERROR_OUT_OF_MEMORY = 10,
  MBRT_ERROR_INTERNAL = 11,
} mbrt_status;

/* A short fixed description of a status ("invalid argument", ...). */
MBRT_API const char *mbrt_status_name(mbrt_status status);

/* Version of this runtime and the newest artifact format it reads. */
MBRT_API const char *mbrt_runtime_version(void);
MBRT_API uint32_t mbrt_supported_format_version(void);

/*===------------------------------- Models -------------------------------===*/

typedef struct mbrt_model mbrt_model;

/* Where a model runs (docs/cuda.md).
   CUDA: the CUDA code of the artifact on CUDA device 0; MBRT_ERROR_NO_DEVICE
     ("no CUDA device: ...") without a driver or a device.
   AUTO: CUDA when the artifact has CUDA code and a device is present, else
     the CPU code (MBRT_ERROR_NO_DEVICE when the artifact has CUDA code only
     and there is no device).
   NONE: inspection only: the artifact, its META and its weights are
     validated as for any device, no code is loaded and no device is
     touched; mbrt_session_create fails with MBRT_ERROR_UNSUPPORTED. What
     `mbc-run info` falls back to on a machine without the artifact's
     device. */
typedef enum mbrt_device {
  MBRT_DEVICE_AUTO = 0,
  MBRT_DEVICE_CPU = 1,
  MBRT_DEVICE_CUDA = 2,
  MBRT_DEVICE_NONE = 3,
} mbrt_device;

typedef struct mbrt_model_options {
  mbrt_device device;
  /* The external weights file to use instead of the one named in META
     (absolute, or relative to the working directory). NULL: META's file,
     relative to the artifact's directory unless absolute. */
  const char *weights_path;
} mbrt_model_options;

MBRT_API mbrt_model_options mbrt_model_default_options(void);

/* Loads an artifact: maps it, validates header, sections, checksums and
   META, binds the weights and loads the compiled code. `options` may be NULL
   (defaults). On failure *out_model is still a handle (read
   mbrt_model_error, then mbrt_model_free) unless memory ran out, when it is
   NULL. */
MBRT_API mbrt_status mbrt_model_load(const char *path,
                                     const mbrt_model_options *options,
                                     mbrt_model **out_model);
/* NULL is accepted. */
MBRT_API void mbrt_model_free(mbrt_model *model);
/* The message of the last failure on `model` ("" if none). Valid until the
   model is freed. */
MBRT_API const char *mbrt_model_error(const mbrt_model *model);

/* Facts about a loaded model; on a model that failed to load they return 0
   or NULL. */
MBRT_API uint32_t mbrt_model_format_version(const mbrt_model *model);
MBRT_API int32_t mbrt_model_vocab_size(const mbrt_model *model);
MBRT_API int32_t mbrt_model_pad_id(const mbrt_model *model);
/* The longest sequence the model handles (T; generation stops there). */
MBRT_API int64_t mbrt_model_max_length(const mbrt_model *model);
/* The `score` entry's window length and batch (0 without a score entry). */
MBRT_API int64_t mbrt_model_score_window(const mbrt_model *model);
MBRT_API int64_t mbrt_model_score_batch(const mbrt_model *model);
/* 1 when the artifact has the entry points generation needs. */
MBRT_API int mbrt_model_can_generate(const mbrt_model *model);
/* The META section, UTF-8 JSON, `*size` bytes, not NUL-terminated. */
MBRT_API const char *mbrt_model_metadata(const mbrt_model *model, size_t *size);
/* The external weights file in use, NULL when the weights are embedded. */
MBRT_API const char *mbrt_model_weights_path(const mbrt_model *model);
/* The device the model was loaded on (CPU, CUDA or NONE, never AUTO), and a
   line describing it: "cpu", "cpu (no CUDA device: ...)" when AUTO fell
   back, "cuda: NVIDIA H200 (sm_90), sm_90a cubin", "none (inspection
   only)". A failed model: AUTO and "". */
MBRT_API mbrt_device mbrt_model_device(const mbrt_model *model);
MBRT_API const char *mbrt_model_device_description(const mbrt_model *model);

/*===------------------------------ Sessions ------------------------------===*/

typedef struct mbrt_session mbrt_session;

typedef struct mbrt_session_options {
  /* Threads that run the compiled dispatches' workgroups, the calling
     thread included. 0: the machine's hardware concurrency. Ignored by
     models on CUDA (they use the calling thread only). */
  int32_t threads;
} mbrt_session_options;

MBRT_API mbrt_session_options mbrt_session_default_options(void);

/* A session keeps a reference to `model`: free every session before the
   model. `options` may be NULL. On failure *out_session is still a handle
   (read mbrt_session_error) unless memory ran out or `model` is NULL. */
MBRT_API mbrt_status mbrt_session_create(const mbrt_model *model,
                                         const mbrt_session_options *options,
                                         mbrt_session **out_session);
MBRT_API void mbrt_session_free(mbrt_session *session);
MBRT_API const char *mbrt_session_error(const mbrt_session *session);
/* The number of threads the session's pool runs with. */
MBRT_API int32_t mbrt_session_threads(const mbrt_session *session);

/*===------------------------------- Scoring ------------------------------===*/

/* Scores `size` bytes (docs/runtime.md): every byte must be below the
   vocabulary size (else MBRT_ERROR_INVALID_ARGUMENT naming the offset); the
   bytes are cut into windows of mbrt_model_score_window() bytes, each a
   fresh context, the last right-padded with pad_id.
   Outputs, each optional (NULL):
     byte_logprobs  [size]: log p(x_t | x_<t) in nats,
     logprob_rows   [size * vocab_size]: log p(v | x_<t) for every v,
     bits_per_byte: -sum(log p(x_t)) / (size * ln 2); 0 when size == 0. */
MBRT_API mbrt_status mbrt_session_score(mbrt_session *session,
                                        const uint8_t *bytes, size_t size,
                                        float *byte_logprobs,
                                        float *logprob_rows,
                                        double *bits_per_byte);

/*===------------------------------ Generation ----------------------------===*/

typedef enum mbrt_sampler_kind {
  /* argmax of the log-probs, ties to the lower byte. */
  MBRT_SAMPLER_GREEDY = 0,
  /* log-probs / temperature, optional top-k, optional top-p, then one
     seeded uniform draw (test/reference/SAMPLING.md). */
  MBRT_SAMPLER_SAMPLE = 1,
  /* MEGABYTE-pytorch's generate(): top-k with k = max(int((1 - thres) * V),
     1), then argmax(log-probs / temperature + seeded Gumbel noise). */
  MBRT_SAMPLER_TOP_K_GUMBEL = 2,
} mbrt_sampler_kind;

typedef struct mbrt_sampler_options {
  mbrt_sampler_kind kind;
  double temperature;  /* > 0; ignored by GREEDY */
  int32_t top_k;       /* SAMPLE: 0 = off */
  double top_p;        /* SAMPLE: in (0, 1]; 1 = off */
  double filter_thres; /* TOP_K_GUMBEL: in [0, 1]; 0.9 as MEGABYTE-pytorch */
  uint64_t seed;       /* the same seed gives the same bytes */
} mbrt_sampler_options;

/* Greedy, temperature 1, top-k off, top-p 1, filter_thres 0.9, seed 0. */
MBRT_API mbrt_sampler_options mbrt_sampler_default_options(void);

/* Called once per generated byte as soon as it is chosen; `position` is the
   byte's index in the whole sequence (prompt included). Return 0 to go on,
   anything else to stop early (the call then returns MBRT_OK). */
typedef int (*mbrt_byte_callback)(void *user_data, uint8_t byte,
                                  int64_t position);

/* Runs the prompt (any length up to the model's maximum, empty included)
   through the KV-cached decoder and generates up to `count` bytes.
   Every byte chosen is passed to `on_byte` (optional) and stored in
   `out_bytes[i]` (optional, room for `count` bytes); *out_generated
   (optional) receives how many were made. When the sequence would pass the
   model's maximum length, the bytes made so far are kept and the call
   returns MBRT_ERROR_MAX_LENGTH. Each call starts from fresh caches. */
MBRT_API mbrt_status mbrt_session_generate(mbrt_session *session,
                                           const uint8_t *prompt,
                                           size_t prompt_size, size_t count,
                                           const mbrt_sampler_options *sampler,
                                           mbrt_byte_callback on_byte,
                                           void *user_data, uint8_t *out_bytes,
                                           size_t *out_generated);

/* One sampling decision, exposed for applications and tests: picks a token
   from `logprobs` [vocab_size] for sequence position `position`, exactly as
   mbrt_session_generate does. Pure: no handle, no state. On a bad option it
   returns MBRT_ERROR_INVALID_ARGUMENT and writes a message into
   `message` (`message_size` bytes, may be 0). */
MBRT_API mbrt_status mbrt_sample(const mbrt_sampler_options *sampler,
                                 const float *logprobs, int32_t vocab_size,
                                 int64_t position, int32_t *out_token,
                                 char *message, size_t message_size);

#ifdef __cplusplus
}
#endif
/* NOLINTEND(readability-identifier-naming) */

#endif /* MBRT_MBRT_H */
