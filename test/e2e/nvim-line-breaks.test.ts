// Line breaks in what the Neovim plugin (client/nvim) inserts, headless Neovim 0.7 and the default model. Both found in
// the s6 fresh-user trial:
// - a buffer with Windows line endings (fileformat=dos): Neovim sends it to the server with CRLF, so the server's
//   multi-line answer carries CRLF; a buffer line never holds its line break, so the plugin must show and insert the
//   answer with plain line breaks (before the fix each accepted line kept a '\r', written back as CR CR LF);
// - <C-x><C-o>: Vim's completion inserts an item as one line with a NUL (^@) per line break; the plugin puts the
//   item's lines in place of that (before the fix a multi-line item left one line full of NULs).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from './spawn.js';
import { requireNvim, runNvim } from './nvim-harness.js';

const NVIM_TIMEOUT_MS = 90_000;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'infill-ls-nvim-lines-'));
const INIT = path.join(tmp, 'init.lua');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A Python function with an empty body, CRLF throughout; the cursor goes to the end of line 2 (the body's indent). */
const ORIGINAL_CRLF = 'def read_lines(path):\r\n    \r\n';

const INIT_LUA = String.raw`-- Opens the CRLF file, waits for the ready status, asks for an automatic inline completion at the end of line 2
-- (the body's indent), records the server's own answer there and the plugin's ghost text, accepts it with <C-l>,
-- and writes the buffer to SAVE_TO.
local out_path = assert(os.getenv('INFILL_LS_NVIM_OUT'))
local save_to = assert(os.getenv('INFILL_LS_NVIM_SAVE'))
local root = assert(os.getenv('INFILL_LS_ROOT'))
vim.opt.swapfile = false
vim.opt.shadafile = 'NONE'
vim.opt.runtimepath:prepend(root .. '/client/nvim')
local plugin = require('infill_ls')
plugin.setup({ cmd = { 'node', root .. '/bin/infill-ls.js', 'serve', '--stdio', '--device', 'cpu' }, filetypes = { 'python' } })

local report = { steps = {} }
local function finish(err)
  if err then report.error = tostring(err) end
  local f = assert(io.open(out_path, 'w'))
  f:write(vim.json.encode(report))
  f:close()
  vim.cmd(err and 'cq!' or 'qa!')
end
local function poll(what, timeout_ms, predicate, next)
  local deadline = vim.loop.now() + timeout_ms
  local function tick()
    local ok, done = xpcall(predicate, debug.traceback)
    if not ok then return finish(done) end
    if done then
      table.insert(report.steps, what)
      local ok2, err = xpcall(next, debug.traceback)
      if not ok2 then finish(err) end
    elseif vim.loop.now() > deadline then
      finish('timed out after ' .. timeout_ms .. ' ms waiting for ' .. what)
    else
      vim.defer_fn(tick, 50)
    end
  end
  vim.defer_fn(tick, 0)
end
local function feed(k)
  vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes(k, true, false, true), 'm', false)
end

local function run()
  report.fileformat = vim.bo.fileformat
  poll('status ready', 30000, function()
    local s = plugin.status()
    return s ~= nil and s.state ~= 'loading'
  end, function()
    report.statusline = plugin.statusline()
    report.status_command = vim.api.nvim_exec('InfillLsStatus', true)
    feed('2GA')
    poll('insert mode', 5000, function() return vim.api.nvim_get_mode().mode == 'i' end, function()
      plugin.request(2)
      poll('ghost text', 30000, function() return plugin.ghost() ~= nil end, function()
        report.ghost = plugin.ghost()
        local c = vim.api.nvim_win_get_cursor(0)
        report.cursor = { row = c[1], col = c[2] }
        -- The server's answer at the same place, as it sent it.
        local params = vim.lsp.util.make_position_params()
        params.context = { triggerKind = 2 }
        local answers = vim.lsp.buf_request_sync(0, 'textDocument/inlineCompletion', params, 30000) or {}
        for _, a in pairs(answers) do
          local items = a.result and (a.result.items or a.result) or {}
          if items[1] then report.server_text = items[1].insertText end
        end
        feed('<C-l>')
        poll('accepted', 5000, function() return plugin.ghost() == nil end, function()
          report.lines = vim.api.nvim_buf_get_lines(0, 0, -1, true)
          feed('<Esc>')
          vim.defer_fn(function()
            vim.cmd('write! ' .. vim.fn.fnameescape(save_to))
            finish(nil)
          end, 100)
        end)
      end)
    end)
  end)
end

vim.api.nvim_create_autocmd('VimEnter', {
  once = true,
  callback = function()
    vim.schedule(function()
      local ok, err = xpcall(run, debug.traceback)
      if not ok then finish(err) end
    end)
  end,
})
`;

interface CrlfReport {
  error?: string;
  steps: string[];
  fileformat: string;
  statusline: string;
  status_command: string;
  ghost: string;
  server_text?: string;
  cursor: { row: number; col: number };
  lines: string[];
}

describe('Neovim plugin: line breaks of what it inserts', () => {
  it('in a CRLF (fileformat=dos) buffer it shows and inserts a multi-line answer without stray \\r: the saved file keeps CRLF, never CR CR LF', async () => {
    requireNvim('test/e2e/nvim-line-breaks.test.ts');
    fs.writeFileSync(INIT, INIT_LUA);
    const file = path.join(tmp, 'lines.py');
    const saved = path.join(tmp, 'saved.py');
    const out = path.join(tmp, 'result.json');
    fs.writeFileSync(file, ORIGINAL_CRLF);
    const run = await runNvim(INIT, file, { INFILL_LS_ROOT: ROOT, INFILL_LS_NVIM_OUT: out, INFILL_LS_NVIM_SAVE: saved }, NVIM_TIMEOUT_MS);
    const detail = `nvim exit ${run.code}; stderr: ${run.stderr.slice(-2000)}; report: ${fs.existsSync(out) ? fs.readFileSync(out, 'utf8').slice(0, 4000) : '(none)'}`;
    expect(fs.existsSync(out), detail).toBe(true);
    const report = JSON.parse(fs.readFileSync(out, 'utf8')) as CrlfReport;
    expect(report.error, detail).toBeUndefined();
    expect(report.steps, detail).toEqual(['status ready', 'insert mode', 'ghost text', 'accepted']);
    expect(report.fileformat).toBe('dos');
    // The status for 'statusline' names the device; :InfillLsStatus also the model.
    expect(report.statusline).toMatch(/^infill-ls: ready · cpu( · \d+ ms)?$/);
    expect(report.status_command).toContain(`(model: ${path.join(ROOT, 'models', 'default')})`);

    // The server fitted its answer to the CRLF document. This needs an answer of several lines: the default model
    // writes a body of several lines here (if a new model writes one line, choose another spot).
    expect(report.server_text, detail).toBeDefined();
    expect(report.server_text, `the server's answer is not multi-line: ${detail}`).toContain('\r\n');
    expect(report.server_text!.replace(/\r\n/g, '')).not.toContain('\r');
    // The plugin shows it with plain line breaks and inserts exactly that.
    expect(report.ghost).toBe(report.server_text!.replace(/\r\n/g, '\n'));
    expect(report.cursor).toEqual({ row: 2, col: 4 });
    const expectedLines = ['def read_lines(path):', ...`    ${report.ghost}`.split('\n')];
    expect(report.lines).toEqual(expectedLines);
    for (const line of report.lines) expect(line).not.toContain('\r');
    // Written back with one CRLF per line; the user's file itself was not touched.
    expect(fs.readFileSync(saved, 'utf8')).toBe(expectedLines.map((l) => `${l}\r\n`).join(''));
    expect(fs.readFileSync(file, 'utf8')).toBe(ORIGINAL_CRLF);
  }, 120_000);

  it('<C-x><C-o> then <C-y> on an item of several lines inserts those lines, not one line with NULs', async () => {
    requireNvim('test/e2e/nvim-line-breaks.test.ts');
    const init = path.join(tmp, 'omni.lua');
    fs.writeFileSync(init, OMNI_LUA);
    const file = path.join(tmp, 'omni.py');
    const out = path.join(tmp, 'omni.json');
    fs.writeFileSync(file, ORIGINAL_LF);
    const run = await runNvim(init, file, { INFILL_LS_ROOT: ROOT, INFILL_LS_NVIM_OUT: out }, NVIM_TIMEOUT_MS);
    const detail = `nvim exit ${run.code}; stderr: ${run.stderr.slice(-2000)}; report: ${fs.existsSync(out) ? fs.readFileSync(out, 'utf8').slice(0, 4000) : '(none)'}`;
    expect(fs.existsSync(out), detail).toBe(true);
    const report = JSON.parse(fs.readFileSync(out, 'utf8')) as OmniReport;
    expect(report.error, detail).toBeUndefined();
    expect(report.steps, detail).toEqual(['status ready', 'omni items', 'inserted']);
    // The manual request's candidates include one of several lines here (the default model writes a body).
    expect(report.chosen, `no item of several lines in the menu: ${detail}`).toBeGreaterThanOrEqual(0);
    const word = report.words[report.chosen]!;
    expect(word).toContain('\n');
    expect(report.lines).toEqual(['def read_lines(path):', ...`    ${word}`.split('\n')]);
    for (const line of report.lines) expect(line).not.toContain('\0');
    // The cursor ends after the inserted text, still in Insert mode.
    const last = word.split('\n').at(-1)!;
    expect(report.cursor).toEqual({ row: report.lines.length, col: Buffer.byteLength(last) });
    expect(report.mode).toBe('i');
  }, 120_000);
});

/** The same function with LF line ends; <C-x><C-o> at the end of line 2. */
const ORIGINAL_LF = 'def read_lines(path):\n    \n';

const OMNI_LUA = String.raw`-- Opens the file, waits for the ready status, opens the omni menu at the end of line 2, selects the first item of
-- several lines with <C-n> and inserts it with <C-y>; reports the items, the buffer and the cursor.
local out_path = assert(os.getenv('INFILL_LS_NVIM_OUT'))
local root = assert(os.getenv('INFILL_LS_ROOT'))
vim.opt.swapfile = false
vim.opt.shadafile = 'NONE'
vim.opt.runtimepath:prepend(root .. '/client/nvim')
local plugin = require('infill_ls')
plugin.setup({ cmd = { 'node', root .. '/bin/infill-ls.js', 'serve', '--stdio', '--device', 'cpu' }, filetypes = { 'python' }, auto_trigger = false })

local report = { steps = {}, chosen = -1 }
local function finish(err)
  if err then report.error = tostring(err) end
  local f = assert(io.open(out_path, 'w'))
  f:write(vim.json.encode(report))
  f:close()
  vim.cmd(err and 'cq!' or 'qa!')
end
local function poll(what, timeout_ms, predicate, next)
  local deadline = vim.loop.now() + timeout_ms
  local function tick()
    local ok, done = xpcall(predicate, debug.traceback)
    if not ok then return finish(done) end
    if done then
      table.insert(report.steps, what)
      local ok2, err = xpcall(next, debug.traceback)
      if not ok2 then finish(err) end
    elseif vim.loop.now() > deadline then
      finish('timed out after ' .. timeout_ms .. ' ms waiting for ' .. what)
    else
      vim.defer_fn(tick, 50)
    end
  end
  vim.defer_fn(tick, 0)
end
local function feed(k)
  vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes(k, true, false, true), 'm', false)
end

local function run()
  poll('status ready', 30000, function()
    local s = plugin.status()
    return s ~= nil and s.state ~= 'loading'
  end, function()
    feed('2GA<C-x><C-o>')
    poll('omni items', 30000, function() return #vim.fn.complete_info({ 'items' }).items > 0 end, function()
      report.words = {}
      for i, item in ipairs(vim.fn.complete_info({ 'items' }).items) do
        report.words[i] = item.word
        if report.chosen < 0 and item.word:find('\n', 1, true) then report.chosen = i - 1 end
      end
      if report.chosen < 0 then return finish(nil) end
      -- Neovim's default 'completeopt' (menu,preview) has selected the first item already.
      feed(string.rep('<C-n>', report.chosen) .. '<C-y>')
      poll('inserted', 5000, function() return vim.fn.pumvisible() == 0 and #vim.api.nvim_buf_get_lines(0, 0, -1, true) > 2 end, function()
        vim.defer_fn(function()
          report.lines = vim.api.nvim_buf_get_lines(0, 0, -1, true)
          local c = vim.api.nvim_win_get_cursor(0)
          report.cursor = { row = c[1], col = c[2] }
          report.mode = vim.api.nvim_get_mode().mode
          finish(nil)
        end, 100)
      end)
    end)
  end)
end

vim.api.nvim_create_autocmd('VimEnter', {
  once = true,
  callback = function()
    vim.schedule(function()
      local ok, err = xpcall(run, debug.traceback)
      if not ok then finish(err) end
    end)
  end,
})
`;

interface OmniReport {
  error?: string;
  steps: string[];
  words: string[];
  chosen: number;
  lines: string[];
  cursor: { row: number; col: number };
  mode: string;
}
