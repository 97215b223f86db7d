/* Dispatch of the "elem" family: scalar references, then the tiers the CPU
 * flags allow. Compiled without ISA flags. (Being written.) */
#include <string.h>

#include "cpu.h"

void resa_elem_init(resa_elem_ctx *c, unsigned flags)
{
    memset(c, 0, sizeof *c);
    (void)flags;
}
