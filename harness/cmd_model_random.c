/* PLACEHOLDER: replaced by the real implementation (engine core issue). */
#include <stdio.h>
#include "cmd.h"
#include "kk_err.h"
int cmd_model_random(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "kakeya: 'model_random' is not built yet\n");
    return KK_EXIT_USAGE;
}
