// End-to-end test of the Neovim plugin in client/nvim with Debian's Neovim 0.7.2, headless, on the
// default model: the plugin starts `infill-ls serve --stdio`, shows the inline completion as ghost text
// (an extmark in the `infill_ls_ghost` namespace) while typing in insert mode, inserts it with the accept
// keys (next word, rest of the line, everything left), and serves `<C-x><C-o>` through omnifunc. The Lua
// side (INIT_LUA below) is written to a temp dir.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from './spawn.js';
import { KEYS, ORIGINAL, requireNvim, runNvim } from './nvim-harness.js';

const NVIM_TIMEOUT_MS = 90_000;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'infill-ls-nvim-plugin-'));
const INIT = path.join(tmp, 'init.lua');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const INIT_LUA = String.raw`-- Headless Neovim driving the client/nvim plugin; written to a temp dir and run by this test as
--   INFILL_LS_ROOT=<repo> INFILL_LS_NVIM_OUT=result.json INFILL_LS_NVIM_KEYS='Go...' nvim --headless --clean -u init.lua FILE.ts
-- Loads the plugin from <repo>/client/nvim, waits for status ready, types the keys (left in insert
-- mode), waits for the ghost-text extmark, presses the accept key, then opens the omni menu; a chain of
-- timers polls each step so Neovim's own event loop (autocmds, timers, LSP replies) runs in between.
local out_path = assert(os.getenv('INFILL_LS_NVIM_OUT'))
local keys = assert(os.getenv('INFILL_LS_NVIM_KEYS'))
local root = assert(os.getenv('INFILL_LS_ROOT'))

vim.opt.swapfile = false
vim.opt.shadafile = 'NONE'
vim.opt.expandtab = true
vim.opt.shiftwidth = 2
vim.opt.softtabstop = 2
vim.opt.runtimepath:prepend(root .. '/client/nvim')

local plugin = require('infill_ls')
plugin.setup({
  cmd = { 'node', root .. '/bin/infill-ls.js', 'serve', '--stdio', '--device', 'cpu' },
  filetypes = { 'typescript' },
  accept_key = '<C-l>',
})

local report = { nvim = vim.version(), steps = {} }
local function write_report()
  local f = assert(io.open(out_path, 'w'))
  f:write(vim.json.encode(report))
  f:close()
end
local function finish(err)
  if err then report.error = tostring(err) end
  pcall(write_report)
  vim.cmd(err and 'cq!' or 'qa!')
end

local function buf_text()
  return table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, true), '\n')
end

-- poll(what, timeout_ms, predicate, next): runs predicate every 50 ms from a timer callback.
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
      finish('timed out after ' .. timeout_ms .. ' ms waiting for ' .. what .. ' (mode ' .. vim.api.nvim_get_mode().mode .. ')')
    else
      vim.defer_fn(tick, 50)
    end
  end
  vim.defer_fn(tick, 0)
end

local function feed(k)
  vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes(k, true, false, true), 'm', false)
end

local function ghost_marks()
  return vim.api.nvim_buf_get_extmarks(0, plugin.namespace, 0, -1, { details = true })
end

local function extmark_text(mark)
  local d = mark[4]
  local parts = {}
  for _, chunk in ipairs(d.virt_text or {}) do parts[#parts + 1] = chunk[1] end
  local text = table.concat(parts)
  for _, vl in ipairs(d.virt_lines or {}) do
    local line = {}
    for _, chunk in ipairs(vl) do line[#line + 1] = chunk[1] end
    text = text .. '\n' .. table.concat(line)
  end
  return text
end

local function run()
  report.filetype = vim.bo.filetype
  report.omnifunc = vim.bo.omnifunc
  poll('status ready', 30000, function()
    local s = plugin.status()
    return s ~= nil and s.state ~= 'loading'
  end, function()
    report.status = plugin.status()
    report.status_command = vim.api.nvim_exec('InfillLsStatus', true)
    feed(keys)
    poll('ghost text', 15000, function()
      return vim.api.nvim_get_mode().mode == 'i' and #ghost_marks() > 0
    end, function()
      local mark = ghost_marks()[1]
      report.ghost = extmark_text(mark)
      report.ghost_pos = { row = mark[2], col = mark[3] }
      report.ghost_api = plugin.ghost()
      local c = vim.api.nvim_win_get_cursor(0)
      report.cursor_before = { row = c[1], col = c[2] }
      report.text_before = buf_text()
      report.line_before = vim.api.nvim_get_current_line()
      -- Accept the next word, then the rest of the line, then everything left; a key is pressed only while
      -- ghost text remains. Each step records the text, cursor and ghost before and after.
      report.partial = {}
      local keys_left = { '<M-Right>', '<M-C-Right>', '<C-l>' }
      local after_accept
      local function next_accept()
        local key = table.remove(keys_left, 1)
        if not key or not plugin.ghost() then return after_accept() end
        local before = buf_text()
        local c = vim.api.nvim_win_get_cursor(0)
        local st = { key = key, ghost_before = plugin.ghost(), text_before = before, cursor_before = { row = c[1], col = c[2] } }
        feed(key)
        poll('accept ' .. key, 5000, function() return buf_text() ~= before end, function()
          st.text_after = buf_text()
          st.ghost_after = plugin.ghost() or ''
          local c2 = vim.api.nvim_win_get_cursor(0)
          st.cursor_after = { row = c2[1], col = c2[2] }
          table.insert(report.partial, st)
          next_accept()
        end)
      end
      after_accept = function()
        table.insert(report.steps, 'acceptance')
        report.text_after = buf_text()
        local c2 = vim.api.nvim_win_get_cursor(0)
        report.cursor_after = { row = c2[1], col = c2[2] }
        report.marks_after_accept = #vim.api.nvim_buf_get_extmarks(0, plugin.namespace, 0, -1, {})
        -- Omni completion on a fresh line below what was accepted.
        feed('<CR><C-x><C-o>')
        poll('omni items', 15000, function()
          local info = vim.fn.complete_info({ 'items' })
          return vim.api.nvim_get_mode().mode:match('^i') and #info.items > 0
        end, function()
          report.mode = vim.api.nvim_get_mode().mode
          report.omni_items = vim.fn.complete_info({ 'items' }).items
          feed('<C-e><Esc>')
          finish(nil)
        end)
      end
      next_accept()
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

interface PluginReport {
  error?: string;
  steps: string[];
  filetype: string;
  omnifunc: string;
  status: { state: string; message?: string };
  status_command: string;
  ghost: string;
  ghost_api: string;
  ghost_pos: { row: number; col: number };
  cursor_before: { row: number; col: number };
  line_before: string;
  text_before: string;
  text_after: string;
  cursor_after: { row: number; col: number };
  marks_after_accept: number;
  partial: Array<{ key: string; ghost_before: string; ghost_after: string; text_before: string; text_after: string; cursor_before: { row: number; col: number }; cursor_after: { row: number; col: number } }>;
  mode: string;
  omni_items: Array<{ word: string; menu?: string }>;
}

describe('Neovim plugin (client/nvim) in headless Neovim with the default model', () => {
  it('shows the inline completion as ghost text, accepts it word, line and rest (<M-Right>, <M-C-Right>, <C-l>), and fills the omni menu', async () => {
    requireNvim('test/e2e/nvim-plugin.test.ts');

    fs.writeFileSync(INIT, INIT_LUA);
    const file = path.join(tmp, 'sample.ts');
    const out = path.join(tmp, 'result.json');
    fs.writeFileSync(file, ORIGINAL);
    const run = await runNvim(INIT, file, { INFILL_LS_ROOT: ROOT, INFILL_LS_NVIM_OUT: out, INFILL_LS_NVIM_KEYS: KEYS }, NVIM_TIMEOUT_MS);
    const detail = `nvim exit ${run.code}; stderr: ${run.stderr.slice(-2000)}; report: ${fs.existsSync(out) ? fs.readFileSync(out, 'utf8').slice(0, 4000) : '(none)'}`;
    expect(fs.existsSync(out), detail).toBe(true);
    const report = JSON.parse(fs.readFileSync(out, 'utf8')) as PluginReport;
    expect(report.error, detail).toBeUndefined();
    expect(run.code, detail).toBe(0);
    expect(report.steps.filter((s) => !s.startsWith('accept <'))).toEqual(['status ready', 'ghost text', 'acceptance', 'omni items']);

    // The plugin attached on FileType, set omnifunc, and :InfillLsStatus shows the ready status.
    expect(report.filetype).toBe('typescript');
    expect(report.omnifunc).toBe('v:lua.vim.lsp.omnifunc');
    expect(report.status.state).toBe('ready');
    expect(report.status_command).toContain('infill-ls: ready');

    // Ghost text appeared at the cursor, after the typed `return `, with model text.
    expect(report.line_before).toBe('  return ');
    expect(report.ghost.trim().length, detail).toBeGreaterThan(0);
    expect(report.ghost_api).toBe(report.ghost);
    expect(report.ghost_pos).toEqual({ row: report.cursor_before.row - 1, col: report.cursor_before.col });

    // Accept-word, then accept-line, then accept-all: each inserted a prefix of the ghost text at the cursor and
    // kept the rest as ghost text; together they inserted exactly the ghost text and cleared the extmark.
    expect(report.partial.length).toBeGreaterThan(0);
    expect(report.partial[0]!.key).toBe('<M-Right>');
    const insertAt = (text: string, at: { row: number; col: number }, piece: string) => {
      const ls = text.split('\n');
      const l = ls[at.row - 1]!;
      ls[at.row - 1] = l.slice(0, at.col) + piece + l.slice(at.col);
      return ls.join('\n');
    };
    for (const st of report.partial) {
      expect(st.ghost_before.endsWith(st.ghost_after)).toBe(true);
      const piece = st.ghost_before.slice(0, st.ghost_before.length - st.ghost_after.length);
      expect(piece.length, JSON.stringify(st)).toBeGreaterThan(0);
      expect(st.text_after).toBe(insertAt(st.text_before, st.cursor_before, piece));
      if (st.key === '<M-Right>') expect(piece).toMatch(/^(\n[ \t]*|[ \t]*\w+|[ \t]*[^\w\s]+|[^]?)$/);
      if (st.key === '<M-C-Right>') expect(piece.replace(/^\n/, '')).not.toContain('\n');
    }
    expect(report.partial.at(-1)!.ghost_after).toBe('');
    // (a ghost text of one word is fully accepted by the first key; otherwise the word key left the rest shown)
    if (report.partial[0]!.ghost_after !== '') expect(report.partial.length).toBeGreaterThan(1);
    const lines = report.text_before.split('\n');
    const row = report.cursor_before.row - 1;
    const line = lines[row];
    lines[row] = line.slice(0, report.cursor_before.col) + report.ghost + line.slice(report.cursor_before.col);
    expect(report.text_after).toBe(lines.join('\n'));
    expect(report.text_after).toContain(`  return ${report.ghost}`);
    const ghostLines = report.ghost.split('\n');
    expect(report.cursor_after.row).toBe(report.cursor_before.row + ghostLines.length - 1);
    expect(report.marks_after_accept).toBe(0);

    // <C-x><C-o> on the next line opened the menu with the server's classic completion items.
    expect(report.mode).toMatch(/^i/);
    expect(report.omni_items.length, detail).toBeGreaterThan(0);
    expect(report.omni_items[0].word.trim().length).toBeGreaterThan(0);
    expect(report.omni_items[0].menu).toBe('infill-ls');
  }, 120_000);
});
