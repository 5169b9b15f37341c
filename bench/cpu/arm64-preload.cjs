// Preloaded (`node --require`) into the emulated arm64 Node by bench/cpu/arm64.sh, and inherited by its worker
// threads (their execArgv). QEMU user mode does not follow exec and binfmt_misc is not registered, so a child process
// started from process.execPath (the arm64 node binary) could not run: point it at the host's node, whose path
// arm64.sh passes in INFILL_LS_ARM64_HOST_NODE. Children run natively, as they do under bench/cpu/avx2.sh.
'use strict';
const hostNode = process.env.INFILL_LS_ARM64_HOST_NODE;
if (hostNode && process.arch === 'arm64') process.execPath = hostNode;
