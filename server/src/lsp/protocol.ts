// infill-ls's own LSP messages: method names and parameter shapes of the custom notifications and command.

import type { EngineStatus } from '../engine/types.js';

/** Server → client, whenever the engine's status changes (and once after `initialized`). */
export const STATUS_NOTIFICATION = 'infill-ls/status';
export type StatusParams = EngineStatus;

/** Client → server telemetry about completions the server returned. */
export const DID_SHOW_COMPLETION = 'infill-ls/didShowCompletion';
export const DID_ACCEPT_COMPLETION = 'infill-ls/didAcceptCompletion';
export const DID_PARTIALLY_ACCEPT_COMPLETION = 'infill-ls/didPartiallyAcceptCompletion';
/** Copilot's names for the same notifications, accepted as aliases. */
export const COPILOT_ALIASES: Record<string, typeof DID_SHOW_COMPLETION | typeof DID_PARTIALLY_ACCEPT_COMPLETION> = {
  'textDocument/didShowCompletion': DID_SHOW_COMPLETION,
  'textDocument/didPartiallyAcceptCompletion': DID_PARTIALLY_ACCEPT_COMPLETION,
};

/** Params of the three notifications; all fields optional because editors send what they have. */
export interface CompletionEventParams {
  /** The id the server put into the item (`data.completionId` or the command argument). */
  completionId?: string;
  uri?: string;
  /** Partial accepts: accepted UTF-16 code units of the item's text. */
  acceptedLength?: number;
  /** Copilot-style params carry the item itself. */
  item?: { command?: { arguments?: unknown[] }; data?: { completionId?: string } };
}

/**
 * Command attached to inline completion items: VS Code runs it on accept and, because the server
 * lists it in executeCommandProvider, forwards it as workspace/executeCommand.
 */
export const ACCEPT_COMMAND = 'infill-ls.didAcceptCompletion';
