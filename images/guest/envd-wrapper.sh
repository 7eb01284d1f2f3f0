#!/bin/sh
# envd launcher: the bundled daemon runs on the Node binary installed beside it.
exec /usr/local/bin/node /usr/local/lib/envd/envd.mjs "$@"
