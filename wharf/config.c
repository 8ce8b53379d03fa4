/*
 * wharf config — print, check, read and change main.conf(5).
 *
 * Everything goes through lib/conf so that what `wharf config` prints is
 * exactly what the master would run with.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "conf.h"
#include "xmalloc.h"
#include "wharf.h"

/* wharf config [-n | -d] */
static int
config_print(struct wharf *w, enum conf_print how)
{
	struct conf	*c;

	if (how == CONF_PRINT_DEFAULTS) {
		/* Defaults need no file: useful before one exists. */
		c = conf_defaults();
		conf_print(c, how, stdout);
		conf_free(&c);
		return WHARF_EXIT_OK;
	}
	if ((c = wharf_conf(w)) == NULL)
		return WHARF_EXIT_ERR;
	conf_print(c, how, stdout);
	return WHARF_EXIT_OK;
}

static int
config_check(struct wharf *w)
{
	if (wharf_conf(w) == NULL)
		return WHARF_EXIT_ERR;
	printf("wharf: config ok\n");
	return WHARF_EXIT_OK;
}

/* The effective, expanded value, as `wharf config` prints it. */
static int
config_get(struct wharf *w, const char *key)
{
	if (conf_key_find(key) == NULL) {
		wharf_errx("config get: unknown key '%s'", key);
		return WHARF_EXIT_ERR;
	}
	if (wharf_conf(w) == NULL)
		return WHARF_EXIT_ERR;
	printf("%s\n", conf_str(w->conf, key));
	return WHARF_EXIT_OK;
}

/* wharf config set key=value: conf_file_set validates before renaming. */
static int
config_set(struct wharf *w, const char *arg)
{
	char	*key, *value, *eq, *err = NULL;
	int	 rc = WHARF_EXIT_ERR;

	key = xstrdup(arg);
	if ((eq = strchr(key, '=')) == NULL) {
		free(key);
		return wharf_usage();
	}
	*eq = '\0';
	value = str_trim(eq + 1);
	str_trim(key);
	if (conf_file_set(w->conf_path, key, value, &err) == -1)
		wharf_errx("config set: %s", err);
	else {
		printf("wharf: %s = %s (run 'wharf reload' to apply)\n",
		    key, value);
		rc = WHARF_EXIT_OK;
	}
	free(err);
	free(key);
	return rc;
}

int
cmd_config(struct wharf *w, int argc, char **argv)
{
	if (argc == 0)
		return config_print(w, CONF_PRINT_ALL);
	if (argc == 1 && strcmp(argv[0], "-n") == 0)
		return config_print(w, CONF_PRINT_CHANGED);
	if (argc == 1 && strcmp(argv[0], "-d") == 0)
		return config_print(w, CONF_PRINT_DEFAULTS);
	if (argc == 1 && strcmp(argv[0], "check") == 0)
		return config_check(w);
	if (argc == 2 && strcmp(argv[0], "get") == 0)
		return config_get(w, argv[1]);
	if (argc == 2 && strcmp(argv[0], "set") == 0)
		return config_set(w, argv[1]);
	return wharf_usage();
}
