// Command-line entry point: turns argv into wiring (serve over LSP or WebSocket, or the runtime's complete/eval commands).

// First: onnxruntime's telemetry off in this process (and so in workers and children it starts) before anything
// can load the runtime.
import './runtime/no-telemetry.js';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { resolveToken, TOKEN_ENV, TokenFileError } from './api/token.js';
import { startApiServer, DEFAULT_API_PORT } from './api/server.js';
import { ArgvError, SERVE_USAGE, parseServeArgs } from './config/argv.js';
import type { EngineFactory } from './config/engine.js';
import { EngineHost, localModelOptions } from './config/engine-host.js';
import { DEFAULT_SETTINGS, applySettings } from './config/settings.js';
import { runLspServer } from './lsp/transport.js';
import { packageRoot } from './util/paths.js';

const USAGE = `infill-ls — a code-completion language server running a local fill-in-the-middle model

usage:
  infill-ls serve --stdio | --socket=PORT | --pipe=NAME    LSP server for editors
  infill-ls serve --ws [--port N] [--host H]               headless WebSocket JSON-RPC API
  infill-ls complete ...                                   one completion from the command line
  infill-ls eval ...                                       run an evaluation
  infill-ls models pull <org/name>[@rev]                   download a Hugging Face Hub model
  infill-ls --version | --help

${SERVE_USAGE}`;

function version(): string {
  try {
    return (JSON.parse(fs.readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

function stderr(line: string): void {
  process.stderr.write(`${line}\n`);
}

/**
 * The real engine: the runtime helper's createEngine on the configured model directory, its model in a worker thread. Imported
 * lazily so `--help`, `--version` and argument errors never load onnxruntime-node.
 */
const realEngineFactory: EngineFactory = async (options) => {
  // Same-file far context for the remote backends, in characters: the setting, else the env the engine reads, × 4;
  // neither set: off there (backend/far-text.ts says why).
  const envFar = Number(process.env.INFILL_LS_FAR_CONTEXT_TOKENS?.trim() || NaN);
  const farTokens = options.farContextTokens ?? (Number.isInteger(envFar) && envFar >= 0 && envFar <= 8192 ? envFar : undefined);
  const farContextChars = farTokens === undefined ? 0 : farTokens * 4;
  if (options.backend?.kind === 'openai') {
    const { createOpenAiEngine } = await import('./backend/openai.js');
    const b = options.backend;
    return createOpenAiEngine({ url: b.url, model: b.model, apiKey: b.apiKey, fim: b.fim, maxNewTokens: options.maxNewTokens, farContextChars, log: (message) => stderr(`infill-ls engine: ${message}`) });
  }
  if (options.backend?.kind === 'llama-server') {
    const { createLlamaServerEngine } = await import('./backend/llama-server.js');
    const b = options.backend;
    return createLlamaServerEngine({ url: b.url, apiKey: b.apiKey, tMaxPredictMs: b.tMaxPredictMs, slots: b.slots, maxNewTokens: options.maxNewTokens, farContextChars, log: (message) => stderr(`infill-ls engine: ${message}`) });
  }
  const [{ createEngine }, { createWorkerHost }] = await Promise.all([import('./engine/engine.js'), import('./model-host/index.js')]);
  const model = localModelOptions(options);
  // The engine's log is debug detail (load steps, fallbacks); status notifications carry the summary.
  const log = process.env.INFILL_LS_LOG === 'debug' ? (message: string) => stderr(`infill-ls engine: ${message}`) : undefined;
  // The model runs in a worker thread (model-host/): the server's message loop never waits for it.
  return createEngine({ ...model, log, host: createWorkerHost(model, { log }) });
};

/** Runs `complete` / `eval` / `models` from server/src/cli/ (the runtime helper's room), loaded lazily like the engine. */
async function runCliCommand(name: 'complete' | 'eval' | 'models', argv: string[]): Promise<number> {
  const cli = await import('./cli/index.js');
  return name === 'complete' ? cli.runComplete(argv) : name === 'eval' ? cli.runEval(argv) : cli.runModels(argv);
}

async function serve(argv: string[]): Promise<number | 'running'> {
  const args = parseServeArgs(argv);
  if (args.help) {
    process.stdout.write(`${SERVE_USAGE}\n`);
    return 0;
  }
  const initial = applySettings(DEFAULT_SETTINGS, args.settings);
  if (initial.errors.length > 0) throw new ArgvError(initial.errors.join('\n'));
  const settings = initial.settings;
  // --threads is a process option, not a setting: every engine this process creates (a settings change recreates it) gets it.
  const threads = args.threads;
  const factory: EngineFactory = threads === undefined ? realEngineFactory : (options) => realEngineFactory({ ...options, threads });

  if (args.transport.kind !== 'ws') {
    runLspServer(args.transport, { factory, baseDir: packageRoot, defaults: settings, version: version() });
    return 'running';
  }

  const token = resolveToken({ file: args.tokenFile, regenerate: args.newToken });
  const engine = new EngineHost({
    factory,
    settings,
    baseDir: packageRoot,
    log: (level, message) => stderr(`infill-ls ${level}: ${message}`),
  });
  let server;
  try {
    server = await startApiServer({
      engine,
      token: token.token,
      host: args.transport.host,
      port: args.transport.port ?? DEFAULT_API_PORT,
      allowedOrigins: args.allowedOrigins,
      maxMessageBytes: args.maxMessageBytes,
      maxConcurrentRequests: args.maxConcurrentRequests,
      settings: () => settings,
      log: (level, message) => stderr(`infill-ls ${level}: ${message}`),
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new ArgvError(`port ${args.transport.port ?? DEFAULT_API_PORT} is in use: pass --port N (0 picks a free port)`);
    throw err;
  }
  // One line per settled state (ready or degraded): the model, the device and why that device. The load steps in
  // between are debug detail (INFILL_LS_LOG=debug), like the engine's own log.
  let lastLine = '';
  const debug = process.env.INFILL_LS_LOG === 'debug';
  engine.onStatus((status) => {
    if (status.state === 'loading' && !debug) return;
    const inPackage = status.model ? path.relative(packageRoot, status.model) : '';
    const model = status.model ? (inPackage && !inPackage.startsWith('..') && !path.isAbsolute(inPackage) ? inPackage : status.model) : '';
    // A load error's message starts with the model folder already ("/m: model directory not found"): not twice.
    const named = status.model !== undefined && status.message?.startsWith(status.model) === true;
    const line = `${status.state}${model && !named ? `: ${model}` : ''}${status.message ? `: ${status.message}` : ''}`;
    if (line !== lastLine) stderr(`infill-ls model: ${line}`);
    lastLine = line;
  });
  void engine.start();

  const tokenLine =
    token.source === 'env'
      ? `token:  from ${TOKEN_ENV}`
      : token.source === 'generated'
        ? `token:  ${token.token}\n        (new; saved with mode 0600 in ${token.file}; it is not printed again)`
        : `token:  in ${token.file} (run with --new-token to replace it)`;
  const example = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'complete', params: { prefix: 'def add(a, b):\n    return ', suffix: '\n', languageId: 'python' } });
  process.stdout.write(
    [
      `infill-ls ${version()}: WebSocket JSON-RPC API listening on ${server.url}`,
      tokenLine,
      `connect with the header "Authorization: Bearer <token>", then send for example`,
      `  ${example}`,
      `methods: document/open, document/change, document/close, complete, cancel, status (see README.md)`,
      `press Ctrl+C to stop`,
      '',
    ].join('\n'),
  );

  const stop = async (): Promise<void> => {
    await server.close();
    await engine.dispose();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
  return 'running';
}

/**
 * Ends the process with `code` once stdout and stderr have taken everything written so far. `complete` and `eval`
 * end this way as soon as their work is done and the engine is disposed, instead of waiting for Node to tear the
 * environment down: onnxruntime-node (>= 1.25, microsoft/onnxruntime PR 27569) releases its OrtEnv in a Node
 * cleanup hook at that teardown, and OrtEnv's destructor also shuts down the WebGPU EP's Dawn instance
 * (WebGpuContextFactory::Cleanup) — a teardown that can block for good on a machine with a Vulkan GPU
 * (microsoft/onnxruntime issue 29553: a self-deadlock in Dawn's EventManager::ShutDown), whatever device the
 * sessions ran on. That matches what was seen on the GPU machine (16 `eval --device cpu` processes printed their
 * summaries and then never exited) and never here (no GPU). process.exit runs no cleanup hooks; everything
 * infill-ls owns (sessions, files) is closed before this is called.
 */
export function exitWhenFlushed(code: number): void {
  let pending = 2;
  const done = (): void => {
    if (--pending === 0) process.exit(code);
  };
  process.stdout.write('', done);
  process.stderr.write('', done);
}

/** Runs the command; resolves with an exit code, or 'running' when a server keeps the process alive. */
export async function main(argv: string[]): Promise<number | 'running'> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'serve':
        return await serve(rest);
      case 'complete':
        return await runCliCommand('complete', rest);
      case 'eval':
        return await runCliCommand('eval', rest);
      case 'models':
        return await runCliCommand('models', rest);
      case '--version':
      case '-v':
        process.stdout.write(`${version()}\n`);
        return 0;
      case undefined:
      case '--help':
      case '-h':
      case 'help':
        process.stdout.write(`${USAGE}\n`);
        return command === undefined ? 2 : 0;
      default:
        // Editors often launch a server binary with only the transport flag.
        if (command.startsWith('--')) return await serve(argv);
        stderr(`infill-ls: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
        return 2;
    }
  } catch (err) {
    if (err instanceof ArgvError || err instanceof TokenFileError) {
      stderr(`infill-ls: ${err.message}`);
      return 2;
    }
    throw err;
  }
}

// Run when executed directly (`node server/dist/main.js ...`); bin/infill-ls.js imports and calls main().
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).then(
    (code) => {
      if (code !== 'running') exitWhenFlushed(code);
    },
    (err: unknown) => {
      stderr(`infill-ls: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      exitWhenFlushed(1);
    },
  );
}
