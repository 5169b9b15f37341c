// Preloaded (`node --require`) into the emulated arm64 Node by bench/cpu/arm64.sh, and into every worker thread it
// starts (below). QEMU user mode does not follow exec and binfmt_misc is not registered, so a child process started
// from process.execPath (the arm64 node binary) could not run: point it at the host's node, whose path arm64.sh
// passes in INFILL_LS_ARM64_HOST_NODE. Children run natively, as they do under bench/cpu/avx2.sh.
'use strict';
const hostNode = process.env.INFILL_LS_ARM64_HOST_NODE;
if (hostNode && process.arch === 'arm64') {
  process.execPath = hostNode;
  // A worker thread has its own `process`, and a pool (vitest's tinypool) may pass its own execArgv without this
  // preload: every Worker created here gets it first.
  const wt = require('node:worker_threads');
  const Base = wt.Worker;
  if (!Base.__infillArm64Preload) {
    class Worker extends Base {
      constructor(file, options = {}) {
        const execArgv = options.execArgv ?? process.execArgv;
        super(file, execArgv.includes(__filename) ? options : { ...options, execArgv: ['--require', __filename, ...execArgv] });
      }
    }
    Worker.__infillArm64Preload = true;
    wt.Worker = Worker;
    require('node:module').syncBuiltinESMExports();
  }
}
