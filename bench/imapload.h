/*
 * imapload — what the load engine (imapload.c) uses of the message
 * generator (imapload_msg.c).
 *
 * Message k of a fill is the same whichever way it is stored (APPEND or
 * a maildir file): headers, a body of words from a fixed vocabulary, and
 * the word "zebra" in every MSG_NEEDLE_EVERY-th, so a TEXT search has a
 * known number of hits.
 */
#ifndef WHARF_BENCH_IMAPLOAD_H
#define WHARF_BENCH_IMAPLOAD_H

#include <stddef.h>
#include <stdint.h>

struct buf;

#define MSG_NEEDLE_EVERY	100

/* xorshift64: a fast, reproducible stream; never for secrets. */
uint64_t	 msg_rng(uint64_t *state);
/* Uniform-enough in [0, n); 0 when n is 0. */
uint64_t	 msg_rng_below(uint64_t *state, uint64_t n);
/* Word i (mod the vocabulary size) of the message bodies. */
const char	*msg_word(uint64_t i);
/* Message k of about size bytes into b (reset first). */
void		 msg_build(uint64_t *rng, uint64_t k, size_t size,
		    struct buf *b);
/* Messages 0..n-1 as files dir/cur/<k>.bench,S=<bytes>:2, (fatal on
 * error). */
void		 msg_write_maildir(uint64_t *rng, const char *dir,
		    uint64_t n, size_t size);

#endif
