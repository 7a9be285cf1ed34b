/* Helpers shared by several unit-test files (declared in unit.h). Not a
 * suite of its own. */
#include <stdlib.h>
#include "msg.h"
#include "unit.h"

uint8_t *sl_test_pack_unplaced(Sluice__JobSpec *s, size_t *len)
{
    for (size_t i = 0; i < s->n_nodes; i++) {
        s->nodes[i]->line = s->nodes[i]->col = 0;
        if (s->nodes[i]->func)
            s->nodes[i]->func->line = s->nodes[i]->func->col = 0;
    }
    for (size_t i = 0; i < s->n_outputs; i++)
        s->outputs[i]->line = s->outputs[i]->col = 0;
    *len = sluice__job_spec__get_packed_size(s);
    uint8_t *buf = malloc(*len + 1);
    ck_assert_ptr_nonnull(buf);
    sluice__job_spec__pack(s, buf);
    return buf;
}
