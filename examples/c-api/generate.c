/*===- generate.c - Greedy generation through the ssmc C API ---------------===*
 *
 * usage: ssmc-generate-example MODEL.ssmx N_NEW TOKEN [TOKEN...]
 *
 * Loads a compiled artifact, prefills the prompt (token ids) into slot 0 and
 * greedily decodes N_NEW tokens, printing their ids on one line. Tokenizing
 * text is out of scope: the runtime works on token ids.
 *
 *===----------------------------------------------------------------------===*/

#include <ssmc/ssmc.h>

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s MODEL.ssmx N_NEW TOKEN [TOKEN...]\n", argv[0]);
    return 2;
  }
  int n_new = atoi(argv[2]);
  int32_t n_prompt = argc - 3;
  int32_t *prompt = malloc(sizeof(int32_t) * n_prompt);
  for (int32_t i = 0; i < n_prompt; ++i)
    prompt[i] = (int32_t)atol(argv[3 + i]);

  char err[1024];
  ssmc_model *model = ssmc_model_load(argv[1], err, sizeof err);
  if (!model) {
    fprintf(stderr, "error: %s\n", err);
    free(prompt);
    return 1;
  }
  ssmc_info info;
  ssmc_model_info(model, &info);
  ssmc_session *session = ssmc_session_create(
      model, /*batch_capacity=*/1, /*max_context=*/n_prompt + n_new,
      /*num_threads=*/0, err, sizeof err);
  if (!session) {
    fprintf(stderr, "error: %s\n", err);
    ssmc_model_free(model);
    free(prompt);
    return 1;
  }

  float *logits = malloc(sizeof(float) * info.vocab_size);
  int32_t slot = 0;
  const int32_t *tokens = prompt;
  int exit_code = 0;
  ssmc_status status =
      ssmc_prefill(session, 1, &slot, &tokens, &n_prompt, logits);
  for (int i = 0; status == SSMC_OK && i < n_new; ++i) {
    int32_t next = ssmc_sample(logits, info.vocab_size, 0.0f, 1.0f, NULL);
    printf("%s%d", i ? " " : "", next);
    if (i + 1 < n_new)
      status = ssmc_decode(session, 1, &slot, &next, logits);
  }
  printf("\n");
  if (status != SSMC_OK) {
    fprintf(stderr, "error: %s: %s\n", ssmc_status_string(status),
            ssmc_last_error(session));
    exit_code = 1;
  }
  free(logits);
  ssmc_session_free(session);
  ssmc_model_free(model);
  free(prompt);
  return exit_code;
}
