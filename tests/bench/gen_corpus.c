/* gen_corpus: writes the benchmark's text corpus, deterministically: lines of
 * 4..16 words drawn from a Zipf(s) distribution over a fixed vocabulary. The
 * same arguments give the same bytes on every machine (own PRNG, no libc
 * rand); the printed checksum shows it.
 *
 *   gen_corpus OUT [--mb N] [--vocab N] [--s X] [--seed N] */
#include "corpus.h"

static void usage(void)
{
    fprintf(stderr, "usage: gen_corpus OUT [--mb N (150)] [--vocab N (%u)] [--s X (%.2f)] "
            "[--seed N (%u)]\n", BC_VOCAB, BC_ZIPF_S, BC_SEED);
    exit(2);
}

int main(int argc, char **argv)
{
    const char *out = NULL;
    uint64_t mb = 150, seed = BC_SEED;
    unsigned long vocab = BC_VOCAB;
    double s = BC_ZIPF_S;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--mb") == 0 && i + 1 < argc)
            mb = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--vocab") == 0 && i + 1 < argc)
            vocab = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--s") == 0 && i + 1 < argc)
            s = strtod(argv[++i], NULL);
        else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
            seed = strtoull(argv[++i], NULL, 10);
        else if (argv[i][0] == '-' || out)
            usage();
        else
            out = argv[i];
    }
    if (!out || mb == 0 || vocab < 1 || vocab > 10000000 || !(s > 0))
        usage();
    FILE *f = fopen(out, "wb");
    if (!f) {
        fprintf(stderr, "gen_corpus: cannot create %s: %s\n", out, strerror(errno));
        return 1;
    }
    uint64_t words, lines;
    double t0 = bc_now();
    bool ok = bc_corpus_write(f, mb << 20, (uint32_t)vocab, s, seed, &words, &lines);
    ok = fclose(f) == 0 && ok;
    if (!ok) {
        fprintf(stderr, "gen_corpus: writing %s failed\n", out);
        return 1;
    }
    size_t len;
    char *data = bc_read_file(out, &len);
    if (!data) {
        fprintf(stderr, "gen_corpus: cannot read back %s\n", out);
        return 1;
    }
    printf("corpus: %s: %zu bytes, %llu lines, %llu words, vocabulary %lu, zipf s=%.2f, "
           "seed %llu, xxh64 %016llx (%.1f s)\n",
           out, len, (unsigned long long)lines, (unsigned long long)words, vocab, s,
           (unsigned long long)seed, (unsigned long long)XXH64(data, len, 0), bc_now() - t0);
    free(data);
    return 0;
}
