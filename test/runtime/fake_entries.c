/*===- fake_entries.c - TEST ONLY stand-ins for compiled entry points -----===
 *
 * Built into a shared object that make_test_artifact.py puts in the
 * CPU_CODE section of test artifacts, so the runtime's loader, argument
 * layout and generation driver can be tested without the compiler. Never
 * part of the product. Each entry reads its sizes from its first weight
 * ("<entry>.dims", F32) and reports every call, before it computes, to
 * mbrt_test_record_call when the test executable exports one.
 *
 * Arithmetic (chosen so tests can predict it):
 *   embed_s:   token = [unit[U-1] (or -1 at position 0), position,
 *                       sum(unit) (or -1), 0...]
 *   step_s:    hidden = [token[0] + 1, position, context[2], token + context
 *                        beyond]; marks its caches so a missing reset shows
 *   project_s: context[i] = [0, 0, 1000 * (s + 1) + 100 * hidden[1] + i, 0...]
 *   head:      log p = log 0.5 at (int)hidden[0] mod V, the rest shared
 *   score:     logp[b, t, v] = -(t + 1) - v / 1024
 *
 * Each entry's `fake_<entry>_signature` lists the arguments it takes, as
 * mbc's entry wrappers do (docs/artifact.md), with `?` for the sizes it
 * reads from its dims weight.
 *
 *===----------------------------------------------------------------------===*/
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* RTLD_DEFAULT */
#endif
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>

#include "mbc/ArtifactFormat.h"

typedef void (*record_fn)(const char *entry, void **args);

static void record(const char *entry, void **args) {
  record_fn recorder = (record_fn)dlsym(RTLD_DEFAULT, "mbrt_test_record_call");
  if (recorder)
    recorder(entry, args);
}

static int64_t dim(void **args, int index) {
  return (int64_t)((const float *)args[1])[index];
}

static void parallel_for(void **args, mbrt_workgroup_fn fn, void *captures,
                         int64_t count) {
  mbrt_host_context *context = (mbrt_host_context *)args[0];
  context->parallel_for(context->runtime, fn, captures, count);
}

/*--- score ---*/
struct score_captures {
  int64_t window, vocab;
  float *logp;
};

static void score_row(void *opaque, int64_t row) {
  struct score_captures *c = (struct score_captures *)opaque;
  int64_t t = row % c->window;
  for (int64_t v = 0; v < c->vocab; ++v)
    c->logp[row * c->vocab + v] = -(float)(t + 1) - (float)v / 1024.0f;
}

const char fake_score_signature[] = "context\n"
                                    "weight score.dims F32 [?]\n"
                                    "input bytes i32 [?,?]\n"
                                    "output logp f32 [?,?,?]";

void fake_score(void **args) {
  record("score", args);
  struct score_captures c = {dim(args, 1), dim(args, 2), (float *)args[3]};
  parallel_for(args, score_row, &c, dim(args, 0) * c.window);
}

/*--- generation ---*/
static void embed(void **args) {
  int64_t units = dim(args, 0), width = dim(args, 1);
  const int32_t *unit = (const int32_t *)args[2];
  int64_t position = *(const int64_t *)args[3];
  float *token = (float *)args[4];
  int64_t sum = 0;
  for (int64_t i = 0; i < units; ++i)
    sum += unit[i];
  for (int64_t i = 0; i < width; ++i)
    token[i] = 0;
  token[0] = position == 0 ? -1.0f : (float)unit[units - 1];
  token[1] = (float)position;
  token[2] = position == 0 ? -1.0f : (float)sum;
}

struct step_captures {
  const float *token, *context;
  float *hidden;
};

static void step_lane(void *opaque, int64_t i) {
  struct step_captures *c = (struct step_captures *)opaque;
  if (i >= 3)
    c->hidden[i] = c->token[i] + c->context[i];
}

static void step(void **args) {
  int64_t width = dim(args, 0), layers = dim(args, 1), positions = dim(args, 2),
          kv_width = dim(args, 3);
  struct step_captures c = {(const float *)args[2], (const float *)args[3],
                            (float *)args[8]};
  int64_t position = *(const int64_t *)args[4];
  float *k_cache = (float *)args[5], *v_cache = (float *)args[6],
        *shift = (float *)args[7];
  parallel_for(args, step_lane, &c, width);
  c.hidden[0] = c.token[0] + 1.0f;
  c.hidden[1] = (float)position;
  c.hidden[2] = c.context[2];
  if (layers > 0 && kv_width > 0 && position < positions) {
    k_cache[position * kv_width] = 1.0f;
    v_cache[position * kv_width] = 1.0f;
  }
  if (layers > 0)
    shift[0] = 1.0f;
}

static void project(void **args) {
  int64_t rows = dim(args, 1), width = dim(args, 2), stage = dim(args, 3);
  const float *hidden = (const float *)args[2];
  float *context = (float *)args[3];
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t d = 0; d < width; ++d)
      context[i * width + d] = 0;
    context[i * width + 2] =
        (float)(1000 * (stage + 1)) + 100.0f * hidden[1] + (float)i;
  }
}

const char fake_head_signature[] = "context\n"
                                   "weight head.dims F32 [?]\n"
                                   "input hidden f32 [?]\n"
                                   "output logp f32 [?]";

void fake_head(void **args) {
  record("head", args);
  int64_t vocab = dim(args, 1);
  const float *hidden = (const float *)args[2];
  float *logp = (float *)args[3];
  int64_t peak = ((int64_t)hidden[0] % vocab + vocab) % vocab;
  float rest = vocab > 1 ? logf(0.5f / (float)(vocab - 1)) : 0.0f;
  for (int64_t v = 0; v < vocab; ++v)
    logp[v] = v == peak ? (vocab > 1 ? logf(0.5f) : 0.0f) : rest;
}

#define FAKE_STAGE(s)                                                          \
  const char fake_embed_##s##_signature[] =                                    \
      "context\nweight embed_" #s ".dims F32 [?]\ninput unit i32 [?]\n"        \
      "input position i64 [1]\noutput token f32 [?]";                          \
  void fake_embed_##s(void **args) {                                           \
    record("embed_" #s, args);                                                 \
    embed(args);                                                               \
  }                                                                            \
  const char fake_step_##s##_signature[] =                                     \
      "context\nweight step_" #s ".dims F32 [?]\ninput token f32 [?]\n"        \
      "input context f32 [?]\ninput position i64 [1]\n"                        \
      "inout k_cache f32 [?,?,?]\ninout v_cache f32 [?,?,?]\n"                 \
      "inout shift f32 [?,2,?]\noutput hidden f32 [?]";                        \
  void fake_step_##s(void **args) {                                            \
    record("step_" #s, args);                                                  \
    step(args);                                                                \
  }                                                                            \
  const char fake_project_##s##_signature[] =                                  \
      "context\nweight project_" #s ".dims F32 [?]\ninput hidden f32 [?]\n"    \
      "output context f32 [?,?]";                                              \
  void fake_project_##s(void **args) {                                         \
    record("project_" #s, args);                                               \
    project(args);                                                             \
  }
FAKE_STAGE(0)
FAKE_STAGE(1)
FAKE_STAGE(2)
FAKE_STAGE(3)
