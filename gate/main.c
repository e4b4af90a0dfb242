/*
 * kakeya-gate: the evidence gate. Two modes:
 *   kakeya-gate validate --schema SCHEMA INSTANCE...   (cmd_validate.c)
 *   kakeya-gate [flags] EVIDENCE...                      (gate_cmd.c)
 * Only this file and the cmd_* functions pick exit codes (kk_exit).
 */
#include <string.h>

#include "cmd_validate.h"
#include "gate_cmd.h"

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "validate") == 0)
        return gate_cmd_validate(argc - 1, argv + 1);
    return gate_cmd_check(argc, argv);
}
