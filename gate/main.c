/* PLACEHOLDER: replaced by the gate issue's program. */
#include <stdio.h>
int main(void)
{
    fprintf(stderr, "kakeya-gate: not built yet\n");
    return 3;
}
