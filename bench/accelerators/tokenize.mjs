// stdin: a JSON array of texts; stdout: a JSON array of models/default token id lists (for adaskip.py, whose Python
// has no tokenizers package). Usage: echo '["a"]' | node bench/accelerators/tokenize.mjs
import '../lib/help.mjs';
import { Tokenizer } from '../../server/dist/tokenizer/index.js';
import { defaultModelDir } from '../../server/dist/util/paths.js';
import path from 'node:path';

let input = '';
for await (const chunk of process.stdin) input += chunk;
const tok = Tokenizer.fromFiles(path.join(defaultModelDir, 'tokenizer.json'), path.join(defaultModelDir, 'tokenizer_config.json'));
process.stdout.write(JSON.stringify(JSON.parse(input).map((t) => tok.encode(t))));
