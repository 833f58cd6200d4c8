/* complete: an application that links libmbrt.
 *
 *   complete MODEL.mbx "prompt" [N]
 *
 * Loads a compiled model, prints the bits per byte of the prompt under the
 * model, then continues the prompt with N greedily chosen bytes (default 64),
 * printed as they are made. Every failure prints the runtime's message.
 */
#include "mbrt/mbrt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int print_byte(void *user_data, uint8_t byte, int64_t position) {
  (void)user_data;
  (void)position;
  fputc(byte, stdout);
  fflush(stdout);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 3 || argc > 4) {
    fprintf(stderr, "usage: %s MODEL.mbx PROMPT [N]\n", argv[0]);
    return 2;
  }
  size_t count = argc == 4 ? (size_t)strtoull(argv[3], NULL, 10) : 64;
  const uint8_t *prompt = (const uint8_t *)argv[2];
  size_t prompt_size = strlen(argv[2]);

  mbrt_model *model = NULL;
  if (mbrt_model_load(argv[1], NULL, &model) != MBRT_OK) {
    fprintf(stderr, "error: %s\n",
            model ? mbrt_model_error(model) : "out of memory");
    mbrt_model_free(model);
    return 1;
  }
  mbrt_session *session = NULL;
  if (mbrt_session_create(model, NULL, &session) != MBRT_OK) {
    fprintf(stderr, "error: %s\n",
            session ? mbrt_session_error(session) : "out of memory");
    mbrt_session_free(session);
    mbrt_model_free(model);
    return 1;
  }

  int status = 0;
  double bits_per_byte = 0;
  if (mbrt_session_score(session, prompt, prompt_size, NULL, NULL,
                         &bits_per_byte) != MBRT_OK) {
    fprintf(stderr, "error: %s\n", mbrt_session_error(session));
    status = 1;
  } else {
    fprintf(stderr, "prompt: %zu bytes, %.3f bits per byte\n", prompt_size,
            bits_per_byte);
    mbrt_sampler_options greedy = mbrt_sampler_default_options();
    fwrite(prompt, 1, prompt_size, stdout);
    if (mbrt_session_generate(session, prompt, prompt_size, count, &greedy,
                              print_byte, NULL, NULL, NULL) != MBRT_OK) {
      fprintf(stderr, "\nerror: %s\n", mbrt_session_error(session));
      status = 1;
    }
    fputc('\n', stdout);
  }
  mbrt_session_free(session);
  mbrt_model_free(model);
  return status;
}
