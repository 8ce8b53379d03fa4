#!/bin/sh
# STYLE.md: banned functions never appear in our C sources.
banned='strcpy|strcat|sprintf|vsprintf|gets|strtok|atoi|atol'
hits=$(grep -nE "(^|[^_a-zA-Z0-9.>])($banned)[[:space:]]*\(" \
	$(find lib master wharf tests bench -name '*.[ch]' 2>/dev/null) \
	| grep -vE '//|/\*.*\*/' )
if [ -n "$hits" ]; then
	echo "style: banned functions (STYLE.md):" >&2
	echo "$hits" >&2
	exit 1
fi
echo "style: ok"
