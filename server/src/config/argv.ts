// Parses `infill-ls serve` command-line flags into a transport choice, settings and API options (pure, no I/O).

import type { LspTransport } from '../lsp/transport.js';

export type ServeTransport = LspTransport | { kind: 'ws'; port?: number; host?: string };

export interface ServeArgs {
  transport: ServeTransport;
  /** Settings given on the command line (raw; validated by applySettings). */
  settings: Record<string, unknown>;
  allowedOrigins: string[];
  tokenFile?: string;
  newToken: boolean;
  maxMessageBytes?: number;
  maxConcurrentRequests?: number;
  /** `--threads N`: CPU threads per operator for the local model (onnxruntime intraOpNumThreads); absent: env INFILL_LS_THREADS, else onnxruntime's choice. */
  threads?: number;
  /** `--help` / `-h` was given: print SERVE_USAGE and exit 0 (nothing else is validated). */
  help?: boolean;
}

export const SERVE_USAGE = `usage: infill-ls serve (--stdio | --socket=PORT | --pipe=NAME | --ws [--port N] [--host H]) [options]

transports
  --stdio                 LSP over stdin/stdout (what editors launch)
  --socket=PORT           LSP over a socket the client listens on
  --pipe=NAME             LSP over a named pipe / Unix socket the client listens on
  --node-ipc              LSP over Node's IPC channel (the client forked this process)
  --ws                    headless JSON-RPC WebSocket API (default port 7733, host 127.0.0.1)

model
  --model DIR             HF/Optimum model directory (default models/default; --model-dir is the same flag)
  --device D              auto | cpu | cuda | webgpu (default auto)
  --max-new-tokens N      generated tokens per completion (default 64)
  --threads N             CPU threads per operator (default: env INFILL_LS_THREADS, else onnxruntime's choice)
  --cross-file-context    put definitions from other files into the prompt (setting crossFileContext; default off)
  --max-stall-ms N        size prefill runs to ~N ms so another document's decode waits at most about that long
                          (setting maxStallMs; 0 off; default: env INFILL_LS_MAX_STALL_MS, else off)
  --decode-kv-window N    keep only the newest N positions of the KV a generation adds, CPU only (setting
                          decodeKvWindow; 0 off; default: env INFILL_LS_DECODE_KV_WINDOW, else off)
  --draft-tokens N        draft-and-verify decoding: at most N prompt-lookup drafts checked per model run (setting
                          draftTokens, 0..64; 0 off; default: env INFILL_LS_DRAFT_TOKENS, else 4)
  --wgsl-decode on|off    on WebGPU, decode steps in our WGSL kernels instead of onnxruntime's (setting wgslDecode;
                          default: env INFILL_LS_WGSL_DECODE, else on where it can run)
  --far-context-tokens N  snippets of the current file from outside the prompt's window, up to N tokens (the prefix
                          window gets half the prefix budget; setting farContextTokens, 0..8192; 0 off; default: env
                          INFILL_LS_FAR_CONTEXT_TOKENS, else 384)

WebSocket API
  --port N                port (0 picks a free one)
  --host H                interface to bind (default 127.0.0.1; anything else exposes the API)
  --allow-origin ORIGIN   allow browser pages from ORIGIN (repeatable; "*" allows any)
  --token-file FILE       where the bearer token is kept (default $XDG_STATE_HOME/infill-ls/token)
  --new-token             generate a new token even if the file exists
  --max-message-bytes N   largest accepted message (default 4194304)
  --max-concurrent N      requests in flight per connection (default 4)
  INFILL_LS_TOKEN=...     use this token instead of the file

  --help, -h              print this help`;

export class ArgvError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArgvError';
  }
}

function integer(flag: string, value: string | undefined, min: number, max: number): number {
  if (value === undefined || !/^\d+$/.test(value)) throw new ArgvError(`${flag} needs an integer, got ${value === undefined ? 'nothing' : JSON.stringify(value)}`);
  const n = Number(value);
  if (n < min || n > max) throw new ArgvError(`${flag} must be in ${min}..${max}, got ${n}`);
  return n;
}

/** An on|off flag (`--wgsl-decode on`), checked and worded as integer() words its errors. */
function onOff(flag: string, value: string | undefined): boolean {
  if (value === 'on') return true;
  if (value === 'off') return false;
  throw new ArgvError(`${flag} needs on or off, got ${value === undefined ? 'nothing' : JSON.stringify(value)}`);
}

/** A positive integer flag, checked and worded as `complete` and `eval` check theirs (cli/args.ts positiveInt). */
function positiveInteger(flag: string, value: string | undefined): number {
  if (value === undefined || !/^\d+$/.test(value) || Number(value) < 1) throw new ArgvError(`${flag} needs a positive integer, got ${value === undefined ? 'nothing' : JSON.stringify(value)}`);
  return Number(value);
}

/** Parses the flags after `serve` (editors may also launch the binary with just `--stdio`). */
export function parseServeArgs(argv: readonly string[]): ServeArgs {
  if (argv.includes('--help') || argv.includes('-h')) return { transport: { kind: 'stdio' }, settings: {}, allowedOrigins: [], newToken: false, help: true };
  const result: ServeArgs = { transport: { kind: 'stdio' }, settings: {}, allowedOrigins: [], newToken: false };
  let transport: ServeTransport | undefined;
  let port: number | undefined;
  let host: string | undefined;
  const setTransport = (t: ServeTransport): void => {
    if (transport !== undefined && transport.kind !== t.kind) throw new ArgvError(`choose one transport: --${transport.kind} and --${t.kind} were both given`);
    transport = t;
  };
  for (let i = 0; i < argv.length; i++) {
    const raw = argv[i];
    const eq = raw.indexOf('=');
    const flag = raw.startsWith('--') && eq > 0 ? raw.slice(0, eq) : raw;
    const inline = raw.startsWith('--') && eq > 0 ? raw.slice(eq + 1) : undefined;
    const value = (): string | undefined => inline ?? argv[++i];
    switch (flag) {
      case '--stdio':
        setTransport({ kind: 'stdio' });
        break;
      case '--node-ipc':
        setTransport({ kind: 'node-ipc' });
        break;
      case '--socket':
        setTransport({ kind: 'socket', port: integer('--socket', value(), 1, 65535) });
        break;
      case '--pipe': {
        const name = value();
        if (name === undefined || name === '') throw new ArgvError('--pipe needs a pipe name');
        setTransport({ kind: 'pipe', name });
        break;
      }
      case '--ws':
        setTransport({ kind: 'ws' });
        break;
      case '--port':
        port = integer('--port', value(), 0, 65535);
        break;
      case '--host': {
        const h = value();
        if (h === undefined || h === '') throw new ArgvError('--host needs an address');
        host = h;
        break;
      }
      case '--allow-origin': {
        const o = value();
        if (o === undefined || o === '') throw new ArgvError('--allow-origin needs an origin such as http://localhost:5173');
        result.allowedOrigins.push(o);
        break;
      }
      case '--token-file': {
        const f = value();
        if (f === undefined || f === '') throw new ArgvError('--token-file needs a path');
        result.tokenFile = f;
        break;
      }
      case '--new-token':
        result.newToken = true;
        break;
      case '--max-message-bytes':
        result.maxMessageBytes = integer('--max-message-bytes', value(), 1024, 1 << 30);
        break;
      case '--max-concurrent':
        result.maxConcurrentRequests = integer('--max-concurrent', value(), 1, 1024);
        break;
      case '--model':
      case '--model-dir': {
        // One setting, two names: --model (as in `complete` and `eval`), --model-dir (its first name here).
        const d = value();
        if (d === undefined || d === '') throw new ArgvError(`${flag} needs a directory`);
        if (result.settings.modelDir !== undefined && result.settings.modelDir !== d) throw new ArgvError('--model and --model-dir name the same setting; give it once');
        result.settings.modelDir = d;
        break;
      }
      case '--device':
        result.settings.device = value();
        break;
      case '--max-new-tokens':
        result.settings.maxNewTokens = integer('--max-new-tokens', value(), 1, 1024);
        break;
      case '--threads':
        result.threads = positiveInteger('--threads', value());
        break;
      case '--cross-file-context':
        result.settings.crossFileContext = true;
        break;
      case '--max-stall-ms':
        result.settings.maxStallMs = integer('--max-stall-ms', value(), 0, 60000);
        break;
      case '--decode-kv-window':
        result.settings.decodeKvWindow = integer('--decode-kv-window', value(), 0, 65536);
        break;
      case '--draft-tokens':
        result.settings.draftTokens = integer('--draft-tokens', value(), 0, 64);
        break;
      case '--wgsl-decode':
        result.settings.wgslDecode = onOff('--wgsl-decode', value());
        break;
      case '--far-context-tokens':
        result.settings.farContextTokens = integer('--far-context-tokens', value(), 0, 8192);
        break;
      case '--clientProcessId':
        // vscode-languageclient passes this; the LSP watchdog uses initialize's processId instead.
        value();
        break;
      default:
        throw new ArgvError(`unknown option ${JSON.stringify(raw)}\n\n${SERVE_USAGE}`);
    }
  }
  if (transport === undefined) throw new ArgvError(`choose a transport\n\n${SERVE_USAGE}`);
  if ((port !== undefined || host !== undefined) && transport.kind !== 'ws') throw new ArgvError('--port and --host apply to --ws only');
  if (transport.kind === 'ws') {
    const ws: ServeTransport = { kind: 'ws' };
    if (port !== undefined) ws.port = port;
    if (host !== undefined) ws.host = host;
    transport = ws;
  }
  result.transport = transport;
  return result;
}
