/*
 * cmd: the subcommands of bin/kakeya. Each takes the arguments after its
 * own name (argv[0] is the subcommand's name) and returns a process exit code
 * (kk_exit: 0 ok, 1 failed check, 2 bad input, 3 usage). Each prints its own
 * --help. Only these functions (and main) print errors or pick exit codes.
 */
#ifndef KK_CMD_H
#define KK_CMD_H

#include "kk_err.h"

int cmd_model_info(int argc, char **argv);    /* harness/cmd_model_info.c */
int cmd_model_random(int argc, char **argv);  /* harness/cmd_model_random.c */
int cmd_generate(int argc, char **argv);      /* harness/cmd_generate.c */
int cmd_logits(int argc, char **argv);        /* harness/cmd_logits.c */
int cmd_model_synth(int argc, char **argv);   /* harness/cmd_synth.c */
int cmd_niah(int argc, char **argv);          /* harness/cmd_niah.c */
int cmd_restore_fit(int argc, char **argv);   /* harness/cmd_restore.c */
int cmd_restore_eval(int argc, char **argv);  /* harness/cmd_niah.c */
int cmd_codec_kld(int argc, char **argv);     /* harness/cmd_kld.c */
int cmd_tune(int argc, char **argv);          /* harness/cmd_tune.c */
int cmd_spec(int argc, char **argv);          /* harness/cmd_generate.c */
int cmd_model_convert(int argc, char **argv); /* harness/cmd_model_convert.c */
int cmd_codec(int argc, char **argv);         /* harness/cmd_codec.c: codec eval */
int cmd_list(int argc, char **argv);          /* harness/cmd_run.c: presets */
int cmd_show(int argc, char **argv);          /* harness/cmd_run.c */
int cmd_run(int argc, char **argv);           /* harness/cmd_run.c */
int cmd_validate_presets(int argc, char **argv); /* harness/cmd_run.c */
int cmd_merge(int argc, char **argv);         /* harness/cmd_run.c: shard evidence */
int cmd_compare(int argc, char **argv);       /* harness/cmd_compare.c */
int cmd_tokenize(int argc, char **argv);      /* harness/cmd_tokenize.c */

/* Print err as "kakeya SUBCMD: ..." on stderr and return its exit code. */
int cmd_fail(const char *subcmd, const kk_err *err);

#endif /* KK_CMD_H */
