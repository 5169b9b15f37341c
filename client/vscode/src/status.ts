// What the status-bar item shows for each client state: pure, so the wording lives in one place.

/** The server's `infill-ls/status` notification (server/src/engine/types.ts EngineStatus). */
export interface ServerStatus {
  state: 'loading' | 'ready' | 'degraded';
  device?: string;
  model?: string;
  message?: string;
  lastLatencyMs?: number;
}

/** Everything the item depends on: the client's own phase, the last server status, and the enable switches. */
export type ClientState =
  | { phase: 'starting' }
  | { phase: 'running'; status: ServerStatus }
  | { phase: 'failed'; reason: string }
  | { phase: 'stopped' };

export interface StatusView {
  text: string;
  tooltip: string;
  /** 'error' paints the item with the theme's error colours. */
  severity: 'normal' | 'warning' | 'error';
}

const TEXT_REASON_MAX = 60;

function clip(text: string, max: number): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > max ? `${oneLine.slice(0, max - 1)}…` : oneLine;
}

/**
 * `enabledHere`: completions are on for the active editor's language (undefined: no editor).
 * `languageId`: the active editor's language, named when only it is off.
 */
export function statusView(state: ClientState, enabledGlobally: boolean, enabledHere: boolean | undefined, languageId?: string): StatusView {
  const menu = 'Click for the infill-ls menu.';
  switch (state.phase) {
    case 'starting':
      return { text: '$(loading~spin) infill-ls: starting', tooltip: `infill-ls: starting the language server. ${menu}`, severity: 'normal' };
    case 'stopped':
      return { text: '$(debug-stop) infill-ls: stopped', tooltip: `infill-ls: the language server is stopped. ${menu}`, severity: 'warning' };
    case 'failed':
      return {
        text: `$(error) infill-ls: error: ${clip(state.reason, TEXT_REASON_MAX)}`,
        tooltip: `infill-ls could not start the language server: ${state.reason}\n${menu}`,
        severity: 'error',
      };
    case 'running':
      break;
  }
  const s = state.status;
  if (s.state === 'loading') {
    const detail = s.message ? ` (${clip(s.message, 40)})` : '';
    return { text: `$(loading~spin) infill-ls: loading${detail}`, tooltip: `infill-ls: loading the model${s.message ? `: ${s.message}` : ''}. ${menu}`, severity: 'normal' };
  }
  if (s.state === 'degraded') {
    const reason = s.message ?? 'unknown reason';
    return {
      text: `$(error) infill-ls: error: ${clip(reason, TEXT_REASON_MAX)}`,
      tooltip: `infill-ls gives no completions: ${reason}${s.model ? `\nmodel: ${s.model}` : ''}\nFix the model directory (infill-ls.modelDir) or the device setting. ${menu}`,
      severity: 'error',
    };
  }
  const latency = s.lastLatencyMs !== undefined ? ` · ${s.lastLatencyMs} ms` : '';
  const device = s.device ?? 'unknown device';
  const details = `${s.message ?? ''}${s.model ? `\nmodel: ${s.model}` : ''}${s.lastLatencyMs !== undefined ? `\nlast completion: ${s.lastLatencyMs} ms` : ''}`;
  if (!enabledGlobally) {
    return { text: '$(circle-slash) infill-ls: off', tooltip: `infill-ls is disabled (infill-ls.enable "*": false). ${menu}`, severity: 'warning' };
  }
  if (enabledHere === false) {
    return {
      text: `$(circle-slash) infill-ls: off for ${languageId ?? 'this language'}`,
      tooltip: `infill-ls is disabled for ${languageId ?? 'this language'} (infill-ls.enable). ${menu}`,
      severity: 'warning',
    };
  }
  return { text: `$(check) infill-ls: ready · ${device}${latency}`, tooltip: `infill-ls: ready on ${device}. ${details}\n${menu}`, severity: 'normal' };
}
