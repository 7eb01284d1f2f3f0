#!/bin/sh
# envd launcher: the bundled daemon runs on the Node binary installed beside it.
# V8 settings for a daemon in a small VM, often under software emulation (measured in
# bench/README.md, "envd's V8 settings"): no JIT (generated code is retranslated by the
# emulator whenever it changes; WebAssembly goes with it, envd uses none), GC on the one thread, a small young generation, and no
# memory reducer (its idle-time full collections cost CPU and copy guest pages, and the
# guest's memory is not returned to the host anyway), and `gc` exposed so envd can free the
# Buffers of streamed output promptly (apps/envd/src/transient-buffers.ts).
exec /usr/local/bin/node --jitless --no-expose-wasm --single-threaded --max-semi-space-size=1 --no-memory-reducer --expose-gc \
  /usr/local/lib/envd/envd.mjs "$@"
