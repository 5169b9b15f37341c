-- infill-ls for Neovim (0.7+): starts `infill-ls serve --stdio`, shows inline completions as ghost text
-- (native vim.lsp.inline_completion on Neovim >= 0.12; extmarks otherwise), sets omnifunc for the
-- classic completion, and records the server's `infill-ls/status` notifications. See :help infill_ls.

local M = {}

local ns = vim.api.nvim_create_namespace('infill_ls_ghost')
M.namespace = ns

local defaults = {
  cmd = { 'infill-ls', 'serve', '--stdio' },
  filetypes = nil, -- nil: every filetype; otherwise a list such as { 'typescript', 'lua' }
  accept_key = '<C-l>',
  accept_word_key = '<M-Right>', -- accept the next word of the ghost text (Copilot's default key)
  accept_line_key = '<M-C-Right>', -- accept the rest of the ghost text's current line
  debounce_ms = 150,
  hl_group = 'Comment',
  root_dir = nil, -- nil: the current working directory
  native = true, -- use vim.lsp.inline_completion when Neovim has it (>= 0.12)
  auto_trigger = true,
  settings = nil, -- sent as initializationOptions
}

local config = vim.deepcopy(defaults)
local client_id = nil
local last_status = nil
local ghost = {} -- bufnr -> { row, col (0-based, byte col), text, extmark, id = completionId, accepted = UTF-16 units }
local timer = nil
local request_seq = 0
local own_edit_tick = {} -- bufnr -> changedtick of the plugin's own partial insert (not the user typing)

local function has_native()
  return config.native and vim.lsp.inline_completion ~= nil
end

function M.status()
  return last_status
end

function M.client_id()
  return client_id
end

--- The ghost text shown in the buffer (nil when none).
function M.ghost(bufnr)
  local g = ghost[bufnr or vim.api.nvim_get_current_buf()]
  return g and g.text or nil
end

function M.clear(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  request_seq = request_seq + 1 -- drop answers to requests already in flight
  if ghost[bufnr] then
    ghost[bufnr] = nil
    if vim.api.nvim_buf_is_valid(bufnr) then vim.api.nvim_buf_clear_namespace(bufnr, ns, 0, -1) end
  end
end

local function stop_timer()
  if timer then
    timer:stop()
    timer:close()
    timer = nil
  end
end

local function get_client()
  return client_id and vim.lsp.get_client_by_id(client_id) or nil
end

-- The item's text in the buffer's terms. The server fits line breaks to the document it was sent, and
-- Neovim sends a 'dos' buffer with CRLF ('mac': CR), but a buffer's lines never hold their line breaks:
-- inserted as is, each '\r' would stay in the line (written back as CR CR LF).
local function item_text(item, bufnr)
  local text = item.insertText
  if type(text) == 'table' then text = text.value end -- StringValue (snippet): shown as is
  text = text or ''
  if vim.bo[bufnr].fileformat ~= 'unix' then text = text:gsub('\r\n?', '\n') end
  return text
end

local function notify(method, g, extra)
  local client = get_client()
  if not client or not g or not g.id then return end
  local params = { completionId = g.id, uri = vim.uri_from_bufnr(g.bufnr) }
  for k, v in pairs(extra or {}) do params[k] = v end
  client.notify(method, params)
end

local function utf16_len(text)
  local _, n16 = vim.str_utfindex(text)
  return n16
end

local function show(bufnr, row, col, text, meta)
  M.clear(bufnr)
  if text == '' then return end
  local lines = vim.split(text, '\n', true)
  local line = vim.api.nvim_buf_get_lines(bufnr, row, row + 1, true)[1] or ''
  local opts = {
    virt_text = { { lines[1], config.hl_group } },
    -- At the end of the line the text goes right at the cursor; mid-line it goes after the line.
    virt_text_pos = col >= #line and 'overlay' or 'eol',
    hl_mode = 'combine',
  }
  if #lines > 1 then
    local rest = {}
    for i = 2, #lines do
      rest[#rest + 1] = { { lines[i], config.hl_group } }
    end
    opts.virt_lines = rest
  end
  local id = vim.api.nvim_buf_set_extmark(bufnr, ns, row, col, opts)
  meta = meta or {}
  ghost[bufnr] = { bufnr = bufnr, row = row, col = col, text = text, extmark = id, id = meta.id, accepted = meta.accepted or 0 }
end

--- Ask the server for an inline completion at the cursor and show the first item as ghost text.
--- trigger_kind: 1 = invoked, 2 = automatic (default).
function M.request(trigger_kind)
  local client = get_client()
  local bufnr = vim.api.nvim_get_current_buf()
  if not client or not vim.lsp.buf_is_attached(bufnr, client_id) then return end
  if vim.fn.pumvisible() == 1 then return end
  local cursor = vim.api.nvim_win_get_cursor(0)
  local tick = vim.api.nvim_buf_get_changedtick(bufnr)
  local params = vim.lsp.util.make_position_params()
  params.context = { triggerKind = trigger_kind or 2 }
  request_seq = request_seq + 1
  local seq = request_seq
  client.request('textDocument/inlineCompletion', params, function(err, result)
    if err or not result or seq ~= request_seq then return end
    if not vim.api.nvim_buf_is_valid(bufnr) or vim.api.nvim_get_current_buf() ~= bufnr then return end
    if vim.api.nvim_buf_get_changedtick(bufnr) ~= tick then return end
    local now = vim.api.nvim_win_get_cursor(0)
    if now[1] ~= cursor[1] or now[2] ~= cursor[2] then return end
    if not vim.api.nvim_get_mode().mode:match('^i') then return end
    local items = result.items or result
    local item = items and items[1]
    if not item then return end
    local text = item_text(item, bufnr)
    -- An item whose range starts before the cursor repeats the text there; show only what is new.
    if item.range and item.range.start and item.range.start.line == params.position.line then
      local line = vim.api.nvim_buf_get_lines(bufnr, cursor[1] - 1, cursor[1], true)[1] or ''
      local start_byte = vim.str_byteindex(line, item.range.start.character, true)
      local typed = line:sub(start_byte + 1, cursor[2])
      if typed ~= '' and vim.startswith(text, typed) then text = text:sub(#typed + 1) end
    end
    local id = item.data and item.data.completionId
    if not id and item.command and item.command.arguments and type(item.command.arguments[1]) == 'table' then
      id = item.command.arguments[1].completionId
    end
    show(bufnr, cursor[1] - 1, cursor[2], text, { id = id })
    notify('infill-ls/didShowCompletion', ghost[bufnr])
  end, bufnr)
end

local function schedule_request()
  stop_timer()
  timer = vim.loop.new_timer()
  timer:start(config.debounce_ms, 0, vim.schedule_wrap(function()
    stop_timer()
    if vim.api.nvim_get_mode().mode:match('^i') then M.request(2) end
  end))
end

--- The next word of a ghost text: leading blanks plus one run of word characters (or of other
--- non-blank characters); a leading line break is a word of its own together with the next line's indent.
function M.next_word(text)
  local nl = text:match('^\n[ \t]*')
  if nl then return nl end
  return text:match('^[ \t]*[%w_]+') or text:match('^[ \t]*[^%w_%s]+') or text:sub(1, 1)
end

--- The rest of the ghost text's first line (a leading line break takes the whole next line).
function M.next_line(text)
  local rest = text:match('^\n[^\n]*') or text:match('^[^\n]+')
  return rest or text:sub(1, 1)
end

-- Inserts `piece` (a prefix of the ghost text) at the cursor and shows what is left; returns true when
-- there was ghost text at the cursor.
local function accept_prefix(bufnr, piece_of)
  local g = ghost[bufnr]
  if not g then return false end
  local cursor = vim.api.nvim_win_get_cursor(0)
  stop_timer()
  if cursor[1] - 1 ~= g.row or cursor[2] ~= g.col then
    M.clear(bufnr)
    return false
  end
  local piece = piece_of and piece_of(g.text) or g.text
  local rest = g.text:sub(#piece + 1)
  M.clear(bufnr)
  local lines = vim.split(piece, '\n', true)
  vim.api.nvim_buf_set_text(bufnr, g.row, g.col, g.row, g.col, lines)
  own_edit_tick[bufnr] = vim.api.nvim_buf_get_changedtick(bufnr)
  local end_row = g.row + #lines
  local end_col = (#lines == 1 and g.col or 0) + #lines[#lines]
  vim.api.nvim_win_set_cursor(0, { end_row, end_col })
  local accepted = g.accepted + utf16_len(piece)
  if rest == '' then
    notify('infill-ls/didAcceptCompletion', g)
  else
    notify('infill-ls/didPartiallyAcceptCompletion', g, { acceptedLength = accepted })
    show(bufnr, end_row - 1, end_col, rest, { id = g.id, accepted = accepted })
  end
  return true
end

--- Insert the ghost text at the cursor; returns true when there was one.
function M.accept()
  local bufnr = vim.api.nvim_get_current_buf()
  if has_native() then
    return vim.lsp.inline_completion.get() and true or false
  end
  return accept_prefix(bufnr, nil)
end

--- Insert the ghost text's next word; the rest stays shown. Returns true when there was ghost text.
function M.accept_word()
  return accept_prefix(vim.api.nvim_get_current_buf(), M.next_word)
end

--- Insert the rest of the ghost text's line; the rest stays shown. Returns true when there was ghost text.
function M.accept_line()
  return accept_prefix(vim.api.nvim_get_current_buf(), M.next_line)
end

-- After <C-x><C-o> inserted an item of several lines. Vim's completion inserts a word as one line, and each line
-- break in it as a NUL (shown ^@), so a multi-line item from vim.lsp.omnifunc (Neovim < 0.11) lands as one broken
-- line. Put the item's lines in place of that text; nothing happens when the line does not hold it (a Neovim that
-- already applied the item's edit itself).
function M.expand_completed_item(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local item = vim.v.completed_item
  if type(item) ~= 'table' or type(item.word) ~= 'string' or not item.word:find('\n', 1, true) then return false end
  local cursor = vim.api.nvim_win_get_cursor(0)
  local row, col = cursor[1] - 1, cursor[2]
  local line = vim.api.nvim_buf_get_lines(bufnr, row, row + 1, true)[1] or ''
  local flat = item.word:gsub('\n', '\0')
  local start = col - #flat
  if start < 0 or line:sub(start + 1, col) ~= flat then return false end
  local text = item.word
  if vim.bo[bufnr].fileformat ~= 'unix' then text = text:gsub('\r\n?', '\n') end
  local lines = vim.split(text, '\n', true)
  vim.api.nvim_buf_set_text(bufnr, row, start, row, col, lines)
  local end_col = (#lines == 1 and start or 0) + #lines[#lines]
  vim.api.nvim_win_set_cursor(0, { row + #lines, end_col })
  return true
end

local function map_key(bufnr, key, fn, desc)
  if not key or key == '' then return end
  vim.keymap.set('i', key, function()
    if not fn() then
      vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes(key, true, false, true), 'n', false)
    end
  end, { buffer = bufnr, silent = true, desc = desc })
end

local function map_accept(bufnr)
  map_key(bufnr, config.accept_key, M.accept, 'infill-ls: accept the inline completion')
  if not has_native() then
    map_key(bufnr, config.accept_word_key, M.accept_word, 'infill-ls: accept the next word of the inline completion')
    map_key(bufnr, config.accept_line_key, M.accept_line, 'infill-ls: accept the next line of the inline completion')
  end
end

local function start_client()
  local client = get_client()
  if client and not client.is_stopped() then return client_id end
  local capabilities = vim.lsp.protocol.make_client_capabilities()
  -- Neovim 0.7 knows no inline completion; declare it so the server offers it.
  capabilities.textDocument.inlineCompletion = capabilities.textDocument.inlineCompletion or {}
  client_id = vim.lsp.start_client({
    name = 'infill-ls',
    cmd = config.cmd,
    -- glibc's mmap threshold fixed at 128 KiB (unless set): the default model's load-time dequantization otherwise
    -- leaves ~300 MB of freed intermediates in the server's heap (models/default/README.md).
    cmd_env = vim.env.MALLOC_MMAP_THRESHOLD_ == nil and { MALLOC_MMAP_THRESHOLD_ = '131072' } or nil,
    root_dir = config.root_dir or vim.fn.getcwd(),
    capabilities = capabilities,
    init_options = config.settings,
    handlers = {
      ['infill-ls/status'] = function(_, result)
        last_status = result
      end,
    },
    on_exit = function()
      client_id = nil
    end,
  })
  return client_id
end

function M.attach(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  if vim.bo[bufnr].buftype ~= '' then return end
  local id = start_client()
  if not id then return end
  if vim.lsp.buf_is_attached(bufnr, id) then return end
  vim.lsp.buf_attach_client(bufnr, id)
  vim.bo[bufnr].omnifunc = 'v:lua.vim.lsp.omnifunc'
  map_accept(bufnr)
  vim.api.nvim_create_autocmd('CompleteDone', {
    group = vim.api.nvim_create_augroup('infill_ls_omni_' .. bufnr, { clear = true }),
    buffer = bufnr,
    callback = function() M.expand_completed_item(bufnr) end,
  })
  if has_native() then
    pcall(vim.lsp.inline_completion.enable, true, { bufnr = bufnr })
    return
  end
  local group = vim.api.nvim_create_augroup('infill_ls_buf_' .. bufnr, { clear = true })
  vim.api.nvim_create_autocmd('InsertCharPre', {
    group = group,
    buffer = bufnr,
    callback = function() M.clear(bufnr) end,
  })
  vim.api.nvim_create_autocmd('TextChangedI', {
    group = group,
    buffer = bufnr,
    callback = function()
      -- The plugin's own partial insert keeps the rest of the ghost text; the user's typing clears it.
      if own_edit_tick[bufnr] == vim.api.nvim_buf_get_changedtick(bufnr) then return end
      M.clear(bufnr)
      if config.auto_trigger then schedule_request() end
    end,
  })
  vim.api.nvim_create_autocmd('CursorMovedI', {
    group = group,
    buffer = bufnr,
    callback = function()
      local g = ghost[bufnr]
      if not g then return end
      local c = vim.api.nvim_win_get_cursor(0)
      if c[1] - 1 ~= g.row or c[2] ~= g.col then M.clear(bufnr) end
    end,
  })
  vim.api.nvim_create_autocmd({ 'InsertLeave', 'BufLeave', 'CompleteChanged' }, {
    group = group,
    buffer = bufnr,
    callback = function()
      stop_timer()
      M.clear(bufnr)
    end,
  })
end

--- A short status for 'statusline' (as VS Code's status bar item): "infill-ls: ready · cpu · 85 ms" (state, device
--- once the model is loaded, last latency), "infill-ls: loading", "infill-ls: degraded"; '' before the first status.
--- e.g. `vim.o.statusline = "%f %= %{v:lua.require'infill_ls'.statusline()}"`
function M.statusline()
  local s = last_status
  if type(s) ~= 'table' then return '' end
  local parts = { 'infill-ls: ' .. tostring(s.state) }
  if s.state ~= 'loading' and type(s.device) == 'string' and s.device ~= '' then parts[#parts + 1] = s.device end
  if s.state == 'ready' and type(s.lastLatencyMs) == 'number' and s.lastLatencyMs > 0 then
    parts[#parts + 1] = string.format('%d ms', s.lastLatencyMs)
  end
  return table.concat(parts, ' · ')
end

function M.show_status()
  local s = last_status
  if not s then
    vim.api.nvim_echo({ { 'infill-ls: no status yet' .. (client_id and '' or ' (server not started)') } }, false, {})
    return
  end
  local msg = M.statusline()
  if s.message and s.message ~= '' then msg = msg .. ' - ' .. s.message end
  if type(s.model) == 'string' and s.model ~= '' then msg = msg .. ' (model: ' .. s.model .. ')' end
  vim.api.nvim_echo({ { msg, s.state == 'degraded' and 'WarningMsg' or 'None' } }, false, {})
end

function M.setup(opts)
  config = vim.tbl_deep_extend('force', vim.deepcopy(defaults), opts or {})
  local group = vim.api.nvim_create_augroup('infill_ls', { clear = true })
  vim.api.nvim_create_autocmd('FileType', {
    group = group,
    pattern = config.filetypes and table.concat(config.filetypes, ',') or '*',
    callback = function(args) M.attach(args.buf) end,
  })
  vim.api.nvim_create_user_command('InfillLsStatus', M.show_status, { bar = true, desc = 'Show the last infill-ls status' })
  vim.api.nvim_create_user_command('InfillLsStop', function()
    local client = get_client()
    if client then client.stop() end
  end, { bar = true, desc = 'Stop the infill-ls server' })
  -- Buffers already open when setup runs.
  for _, buf in ipairs(vim.api.nvim_list_bufs()) do
    local ft = vim.bo[buf].filetype
    if vim.api.nvim_buf_is_loaded(buf) and ft ~= '' and (not config.filetypes or vim.tbl_contains(config.filetypes, ft)) then
      M.attach(buf)
    end
  end
end

return M
