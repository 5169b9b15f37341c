// The VS Code extension: starts the infill-ls language server over stdio with vscode-languageclient 10
// (which registers the `textDocument/inlineCompletion` ghost-text provider), shows the server's status
// in the status bar, and adds commands to trigger, toggle, pick a model and accept word by word.

import fs from 'node:fs';
import path from 'node:path';
import * as vscode from 'vscode';
import {
  CloseAction,
  DidChangeConfigurationNotification,
  ErrorAction,
  LanguageClient,
  TransportKind,
  type LanguageClientOptions,
  type ServerOptions,
} from 'vscode-languageclient/node';
import { completionIdOf, measurePartialAccept, type ShownCompletion } from './partial';
import { ServerConfigError, resolveServer, serverEnv } from './server';
import { SECTION, enableMap, isEnabledFor, missingModelFiles, resolveUserPath, serverSettings, toggleGlobal, toggleLanguage } from './settings';
import { statusView, type ClientState, type ServerStatus } from './status';

const STATUS_NOTIFICATION = 'infill-ls/status';
const DID_PARTIALLY_ACCEPT_COMPLETION = 'infill-ls/didPartiallyAcceptCompletion';
/** Restarts after the server process exits unexpectedly, before the extension gives up and says so. */
const MAX_RESTARTS = 3;

let client: LanguageClient | undefined;
let clientState: ClientState = { phase: 'starting' };
let statusItem: vscode.StatusBarItem;
let output: vscode.LogOutputChannel;
/** The latest inline items per document URI, for measuring partial accepts. */
const shown = new Map<string, ShownCompletion>();

function config(): vscode.WorkspaceConfiguration {
  return vscode.workspace.getConfiguration(SECTION);
}

function workspaceFolder(): string | undefined {
  const folder = vscode.workspace.workspaceFolders?.[0];
  return folder?.uri.scheme === 'file' ? folder.uri.fsPath : undefined;
}

function currentServerSettings(): Record<string, unknown> {
  return serverSettings(config(), workspaceFolder(), fs.existsSync);
}

function renderStatus(): void {
  const enable = enableMap(config().get('enable'));
  const editor = vscode.window.activeTextEditor;
  const languageId = editor?.document.languageId;
  const view = statusView(clientState, enable['*'] ?? true, languageId === undefined ? undefined : isEnabledFor(enable, languageId), languageId);
  statusItem.text = view.text;
  statusItem.tooltip = view.tooltip;
  statusItem.backgroundColor =
    view.severity === 'error'
      ? new vscode.ThemeColor('statusBarItem.errorBackground')
      : view.severity === 'warning'
        ? new vscode.ThemeColor('statusBarItem.warningBackground')
        : undefined;
  statusItem.show();
}

function setState(state: ClientState): void {
  clientState = state;
  renderStatus();
}

/** Which settings target to write: where the user already set the value, else the user settings. */
function targetOf(key: string): vscode.ConfigurationTarget {
  const inspected = config().inspect(key);
  if (inspected?.workspaceFolderValue !== undefined) return vscode.ConfigurationTarget.WorkspaceFolder;
  if (inspected?.workspaceValue !== undefined) return vscode.ConfigurationTarget.Workspace;
  return vscode.ConfigurationTarget.Global;
}

async function startClient(context: vscode.ExtensionContext): Promise<void> {
  setState({ phase: 'starting' });
  let launch;
  try {
    launch = resolveServer(context.extensionPath, config().get<string>('server.path') ?? '', config().get<string>('server.runtime') ?? '', config().get<string[]>('server.extraArgs') ?? []);
  } catch (err) {
    const reason = err instanceof ServerConfigError ? err.message : String(err);
    output.appendLine(`infill-ls: ${reason}`);
    setState({ phase: 'failed', reason });
    return;
  }
  output.appendLine(`infill-ls: starting ${launch.bundled ? 'the bundled server' : 'the server'} ${launch.module}${launch.runtime ? ` with ${launch.runtime}` : ''}`);
  const run = { module: launch.module, runtime: launch.runtime, args: launch.args, transport: TransportKind.stdio, options: { cwd: launch.root, env: serverEnv(process.env) } };
  const serverOptions: ServerOptions = { run, debug: run };

  let restarts = 0;
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ scheme: 'file' }, { scheme: 'untitled' }],
    initializationOptions: { [SECTION]: currentServerSettings() },
    outputChannel: output,
    errorHandler: {
      error: () => ({ action: ErrorAction.Continue }),
      closed: () => {
        restarts++;
        if (restarts <= MAX_RESTARTS) {
          output.appendLine(`infill-ls: the server exited; restart ${restarts} of ${MAX_RESTARTS}`);
          setState({ phase: 'starting' });
          return { action: CloseAction.Restart, handled: true };
        }
        setState({ phase: 'failed', reason: `the server exited ${restarts} times; its log is in Output → infill-ls` });
        return { action: CloseAction.DoNotRestart, handled: true };
      },
    },
    middleware: {
      // The server asks for its section with workspace/configuration: answer with the keys it knows.
      workspace: {
        configuration: async (params, token, next) => {
          const answers = await next(params, token);
          if (!Array.isArray(answers)) return answers;
          return params.items.map((item, i) => (item.section === SECTION ? currentServerSettings() : answers[i]));
        },
        // Changes are pushed by the extension's own listener (pushSettings), with only the server's keys.
        didChangeConfiguration: async () => {},
      },
      provideInlineCompletionItems: async (document, position, context, token, next) => {
        const result = await next(document, position, context, token);
        const items = Array.isArray(result) ? result : (result?.items ?? []);
        const tracked = items.flatMap((item) => {
          const id = completionIdOf(item.command);
          return id !== undefined && typeof item.insertText === 'string' ? [{ completionId: id, text: item.insertText }] : [];
        });
        if (tracked.length > 0) {
          const startOffset = document.offsetAt(position);
          shown.set(document.uri.toString(), { uri: document.uri.toString(), startOffset, textBefore: document.getText().slice(0, startOffset), items: tracked });
        }
        return result;
      },
    },
  };

  const c = new LanguageClient('infill-ls', 'infill-ls', serverOptions, clientOptions);
  client = c;
  c.onNotification(STATUS_NOTIFICATION, (status: ServerStatus) => {
    if (client === c) setState({ phase: 'running', status });
  });
  try {
    await c.start();
    if (clientState.phase === 'starting') setState({ phase: 'running', status: { state: 'loading', message: 'waiting for the server' } });
  } catch (err) {
    if (client === c) setState({ phase: 'failed', reason: `the server did not start: ${err instanceof Error ? err.message : String(err)}` });
  }
}

/** Sends the server its settings after a change (workspace/didChangeConfiguration with our section). */
async function pushSettings(): Promise<void> {
  const c = client;
  if (c === undefined || !c.isRunning()) return;
  const settings = currentServerSettings();
  output.info(`settings changed: sending ${JSON.stringify(settings)}`);
  await c.sendNotification(DidChangeConfigurationNotification.type, { settings: { [SECTION]: settings } });
}

async function stopClient(): Promise<void> {
  const c = client;
  client = undefined;
  shown.clear();
  if (c !== undefined) {
    try {
      await c.stop(5000);
    } catch (err) {
      output.appendLine(`infill-ls: stopping the server failed: ${String(err)}`);
    }
  }
}

/** Runs a built-in partial-accept command and reports to the server how much of our item the document now holds. */
async function acceptPartially(builtin: string): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  const before = editor ? shown.get(editor.document.uri.toString()) : undefined;
  await vscode.commands.executeCommand(builtin);
  if (editor === undefined || before === undefined || client === undefined) return;
  const cursorOffset = editor.document.offsetAt(editor.selection.active);
  const accepted = measurePartialAccept(before, editor.document.getText(), cursorOffset);
  if (accepted === undefined) return;
  const params = { completionId: accepted.completionId, uri: accepted.uri, acceptedLength: accepted.acceptedLength };
  await client.sendNotification(DID_PARTIALLY_ACCEPT_COMPLETION, params);
  output.info(`sent ${DID_PARTIALLY_ACCEPT_COMPLETION} ${JSON.stringify(params)}`);
}

async function chooseModelDirectory(): Promise<void> {
  const current = config().get<string>('modelDir') ?? '';
  const picked = await vscode.window.showOpenDialog({
    canSelectFiles: false,
    canSelectFolders: true,
    canSelectMany: false,
    openLabel: 'Use this model',
    title: 'infill-ls: model directory (config.json, tokenizer.json, onnx/*.onnx)',
    defaultUri: current.trim() !== '' ? vscode.Uri.file(resolveUserPath(current, workspaceFolder())) : undefined,
  });
  const dir = picked?.[0];
  if (dir === undefined) return;
  if (dir.scheme !== 'file') {
    void vscode.window.showErrorMessage(`infill-ls: the model directory must be on this machine's file system, not ${dir.toString()}`);
    return;
  }
  const root = dir.fsPath;
  let onnxFiles: string[] = [];
  try {
    onnxFiles = fs.readdirSync(path.join(root, 'onnx'));
  } catch {
    // no onnx/ folder: reported below
  }
  const missing = missingModelFiles((f) => fs.existsSync(path.join(root, f)), onnxFiles);
  if (missing.length > 0) {
    void vscode.window.showErrorMessage(`infill-ls: ${root} is not a model directory (missing ${missing.join(', ')}); the setting was not changed.`);
    return;
  }
  await config().update('modelDir', root, targetOf('modelDir'));
}

async function showMenu(): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  const enable = enableMap(config().get('enable'));
  const globalOn = enable['*'] ?? true;
  const items: Array<vscode.QuickPickItem & { command: string }> = [
    { label: '$(sparkle) Trigger completion', command: 'infill-ls.trigger' },
    { label: globalOn ? '$(circle-slash) Disable completions' : '$(check) Enable completions', command: 'infill-ls.toggle' },
  ];
  if (editor) {
    const lang = editor.document.languageId;
    items.push({ label: isEnabledFor(enable, lang) ? `$(circle-slash) Disable for ${lang}` : `$(check) Enable for ${lang}`, command: 'infill-ls.toggleLanguage' });
  }
  items.push(
    { label: '$(folder-opened) Choose model directory…', command: 'infill-ls.chooseModelDirectory' },
    { label: '$(package) Use the bundled default model', command: 'infill-ls.useDefaultModel' },
    { label: '$(debug-restart) Restart the server', command: 'infill-ls.restart' },
    { label: '$(output) Show output', command: 'infill-ls.showOutput' },
  );
  const pick = await vscode.window.showQuickPick(items, { title: 'infill-ls' });
  if (pick) await vscode.commands.executeCommand(pick.command);
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  output = vscode.window.createOutputChannel('infill-ls', { log: true });
  statusItem = vscode.window.createStatusBarItem('infill-ls.status', vscode.StatusBarAlignment.Right, 100);
  statusItem.name = 'infill-ls';
  statusItem.command = 'infill-ls.showMenu';
  context.subscriptions.push(output, statusItem);
  renderStatus();

  const command = (id: string, fn: () => unknown): void => {
    context.subscriptions.push(vscode.commands.registerCommand(id, fn));
  };
  command('infill-ls.trigger', () => vscode.commands.executeCommand('editor.action.inlineSuggest.trigger'));
  command('infill-ls.toggle', async () => {
    await config().update('enable', toggleGlobal(enableMap(config().get('enable'))), targetOf('enable'));
  });
  command('infill-ls.toggleLanguage', async () => {
    const editor = vscode.window.activeTextEditor;
    if (editor === undefined) {
      void vscode.window.showInformationMessage('infill-ls: open a file to enable or disable completions for its language.');
      return;
    }
    await config().update('enable', toggleLanguage(enableMap(config().get('enable')), editor.document.languageId), targetOf('enable'));
  });
  command('infill-ls.chooseModelDirectory', chooseModelDirectory);
  command('infill-ls.useDefaultModel', () => config().update('modelDir', undefined, targetOf('modelDir')));
  command('infill-ls.restart', async () => {
    await stopClient();
    await startClient(context);
  });
  command('infill-ls.showOutput', () => output.show(true));
  command('infill-ls.showMenu', showMenu);
  command('infill-ls.acceptNextWord', () => acceptPartially('editor.action.inlineSuggest.acceptNextWord'));
  command('infill-ls.acceptNextLine', () => acceptPartially('editor.action.inlineSuggest.acceptNextLine'));

  context.subscriptions.push(
    vscode.window.onDidChangeActiveTextEditor(renderStatus),
    vscode.workspace.onDidCloseTextDocument((doc) => shown.delete(doc.uri.toString())),
    vscode.workspace.onDidChangeConfiguration(async (e) => {
      if (e.affectsConfiguration(`${SECTION}.server`)) {
        await stopClient();
        await startClient(context);
      } else if (e.affectsConfiguration(SECTION)) {
        renderStatus();
        await pushSettings();
      }
    }),
  );
  await startClient(context);
}

export async function deactivate(): Promise<void> {
  await stopClient();
}
