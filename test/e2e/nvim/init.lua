-- Headless Neovim (0.7+) driving infill-ls as a real LSP client; run by test/e2e/neovim.test.ts:
--   INFILL_LS_NVIM_OUT=result.json INFILL_LS_NVIM_KEYS='Go...' nvim --headless --clean -u test/e2e/nvim/init.lua FILE.ts
-- Starts `node bin/infill-ls.js serve --stdio` with vim.lsp.start_client, attaches the buffer, waits for
-- `infill-ls/status` ready, types INFILL_LS_NVIM_KEYS through insert mode, and while still in insert mode
-- requests textDocument/completion and textDocument/inlineCompletion at the cursor. Writes everything as
-- JSON to INFILL_LS_NVIM_OUT, then exits with :qa! (or :cq! after writing {"error": ...}).

local out_path = os.getenv('INFILL_LS_NVIM_OUT')
local keys = os.getenv('INFILL_LS_NVIM_KEYS')
if not out_path or not keys then
  io.stderr:write('init.lua: set INFILL_LS_NVIM_OUT and INFILL_LS_NVIM_KEYS\n')
  vim.cmd('cq!')
end
local wait_ms = tonumber(os.getenv('INFILL_LS_NVIM_WAIT_MS') or '') or 30000

-- This file is <repo>/test/e2e/nvim/init.lua.
local root = vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h:h:h:h')
local bin = root .. '/bin/infill-ls.js'

vim.opt.swapfile = false
vim.opt.shadafile = 'NONE'
vim.opt.expandtab = true
vim.opt.shiftwidth = 2
vim.opt.softtabstop = 2

local report = { nvim = vim.version(), statuses = {}, log = {} }
local client_id
local server_exit

local function write_report()
  local f = assert(io.open(out_path, 'w'))
  f:write(vim.json.encode(report))
  f:close()
end

local function fail(msg)
  report.error = tostring(msg)
  pcall(write_report)
  vim.cmd('cq!')
end

local function wait(what, predicate)
  if not vim.wait(wait_ms, predicate, 10) then error('timed out after ' .. wait_ms .. ' ms waiting for ' .. what) end
end

local function utf16_len(s)
  -- 0.7's str_utfindex counts UTF-16 code units.
  local _, utf16 = vim.str_utfindex(s)
  return utf16
end

local capabilities = vim.lsp.protocol.make_client_capabilities()
-- 0.7 knows no inline completion; declare it so the server offers it (any method name can be sent).
capabilities.textDocument.inlineCompletion = { dynamicRegistration = false }

-- Called from inside insert mode via <Cmd>: the cursor is where the typing left it.
function InfillProbe()
  local ok, err = xpcall(function()
    report.mode = vim.api.nvim_get_mode().mode
    local cursor = vim.api.nvim_win_get_cursor(0) -- {1-based row, 0-based byte column}
    local line = vim.api.nvim_get_current_line()
    local params = vim.lsp.util.make_position_params()
    report.position = params.position
    report.cursor = { row = cursor[1], byte_col = cursor[2], line = line, utf16_col = utf16_len(line:sub(1, cursor[2])) }
    report.text = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, true), '\n') .. (vim.bo.eol and '\n' or '')
    report.changedtick = vim.api.nvim_buf_get_changedtick(0)

    local started = vim.loop.hrtime()
    local classic, cerr = vim.lsp.buf_request_sync(0, 'textDocument/completion', params, wait_ms)
    report.completion_ms = (vim.loop.hrtime() - started) / 1e6
    if not classic then error('textDocument/completion: ' .. tostring(cerr)) end
    report.completion = classic[client_id]

    local inline_params = vim.tbl_extend('force', params, { context = { triggerKind = 1 } })
    started = vim.loop.hrtime()
    local inline, ierr = vim.lsp.buf_request_sync(0, 'textDocument/inlineCompletion', inline_params, wait_ms)
    report.inline_ms = (vim.loop.hrtime() - started) / 1e6
    if not inline then error('textDocument/inlineCompletion: ' .. tostring(ierr)) end
    report.inline = inline[client_id]
  end, debug.traceback)
  if not ok then report.probe_error = err end
end

local function run()
  local bufnr = vim.api.nvim_get_current_buf()
  report.filetype = vim.bo[bufnr].filetype
  client_id = vim.lsp.start_client({
    name = 'infill-ls',
    cmd = { 'node', bin, 'serve', '--stdio', '--device', 'cpu' },
    root_dir = vim.fn.getcwd(),
    capabilities = capabilities,
    handlers = {
      ['infill-ls/status'] = function(_, result)
        table.insert(report.statuses, result)
      end,
      ['window/logMessage'] = function(_, result)
        table.insert(report.log, result.message)
      end,
      ['window/showMessage'] = function(_, result)
        table.insert(report.log, result.message)
      end,
    },
    on_exit = function(code, signal)
      server_exit = { code = code, signal = signal }
    end,
  })
  if not client_id then error('vim.lsp.start_client failed') end
  if not vim.lsp.buf_attach_client(bufnr, client_id) then error('vim.lsp.buf_attach_client failed') end

  local function client() return vim.lsp.get_client_by_id(client_id) end
  wait('the client to initialize', function() return server_exit ~= nil or (client() ~= nil and client().initialized) end)
  if server_exit then error('the server exited during initialization: ' .. vim.inspect(server_exit)) end
  report.server_capabilities = client().server_capabilities
  wait('infill-ls/status ready or degraded', function()
    local last = report.statuses[#report.statuses]
    return server_exit ~= nil or (last ~= nil and last.state ~= 'loading')
  end)
  if server_exit then error('the server exited while loading: ' .. vim.inspect(server_exit)) end

  -- Type like a user (mappings, indenting, undo as typed), then probe while still in insert mode.
  local typed = vim.api.nvim_replace_termcodes(keys .. '<Cmd>lua InfillProbe()<CR><Esc>', true, false, true)
  vim.api.nvim_feedkeys(typed, 'tx', false)
  if report.probe_error then error(report.probe_error) end
  if not report.completion then error('the probe did not run (typing did not reach it)') end

  -- Shut the server down (shutdown + exit) and record how it exited.
  client().stop()
  wait('the server to exit after shutdown', function() return server_exit ~= nil end)
  report.server_exit = server_exit
  write_report()
  vim.cmd('qa!')
end

vim.api.nvim_create_autocmd('VimEnter', {
  once = true,
  callback = function()
    vim.schedule(function()
      local ok, err = xpcall(run, debug.traceback)
      if not ok then fail(err) end
    end)
  end,
})
