/*
 * fuzz_conf — conf_parse on arbitrary bytes; when they parse, the
 * conf_serialize snapshot must parse back to the same values (the
 * round trip the master relies on for the children's config memfd), and
 * serialising that must give the same bytes again.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "conf.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* raw == value with each '$' doubled. */
static int
is_escaped(const char *raw, const char *value)
{
	for (; *value != '\0'; value++, raw++) {
		if (*value == '$' && *raw++ != '$')
			return 0;
		if (*raw != *value)
			return 0;
	}
	return *raw == '\0';
}

static void
check_same(const struct conf *a, const struct conf *b)
{
	for (size_t k = 0; k < conf_nkeys; k++) {
		const struct conf_key	*key = &conf_keys[k];
		const char		*sa = conf_str(a, key->name);
		size_t			 na, nb;

		if (strcmp(sa, conf_str(b, key->name)) != 0 ||
		    !is_escaped(conf_raw(b, key->name), sa) ||
		    !conf_is_set(b, key->name))
			abort();
		if ((key->type == CONF_INT || key->type == CONF_SIZE ||
		    key->type == CONF_TIME) &&
		    conf_int(a, key->name) != conf_int(b, key->name))
			abort();
		if (key->type == CONF_BOOL &&
		    conf_bool(a, key->name) != conf_bool(b, key->name))
			abort();
		if (key->type == CONF_LIST) {
			char *const	*la = conf_list(a, key->name, &na);
			char *const	*lb = conf_list(b, key->name, &nb);

			if (na != nb)
				abort();
			for (size_t i = 0; i < na; i++)
				if (strcmp(la[i], lb[i]) != 0)
					abort();
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf	*c1, *c2;
	struct buf	 b1, b2;
	char		*err = NULL;

	if ((c1 = conf_parse((const char *)data, size, "fuzz", &err)) == NULL) {
		if (err == NULL)
			abort();
		free(err);
		return 0;
	}
	if (err != NULL)
		abort();
	buf_init(&b1, SIZE_MAX);
	buf_init(&b2, SIZE_MAX);
	if (conf_serialize(c1, &b1) == -1)
		abort();
	if ((c2 = conf_parse(buf_cstr(&b1), b1.len, "snapshot", &err)) == NULL)
		abort();
	check_same(c1, c2);
	if (conf_serialize(c2, &b2) == -1 || b1.len != b2.len ||
	    memcmp(BUF_DATA(&b1), BUF_DATA(&b2), b1.len) != 0)
		abort();
	buf_clear(&b1);
	buf_clear(&b2);
	conf_free(&c1);
	conf_free(&c2);
	return 0;
}
