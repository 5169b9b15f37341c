// Encodes prompts with the project's own tokenizer library, so golden token ids match what the runtime sees.
// Usage: node native/tools/encode.mjs <tokenizer-dir> < prompts.json  → prints [[ids...], ...]
import '../../bench/lib/help.mjs';
import { readFileSync } from 'node:fs';
import { Tokenizer } from '@huggingface/tokenizers';

const dir = process.argv[2];
const tok = new Tokenizer(JSON.parse(readFileSync(`${dir}/tokenizer.json`, 'utf8')), JSON.parse(readFileSync(`${dir}/tokenizer_config.json`, 'utf8')));
const prompts = JSON.parse(readFileSync(0, 'utf8'));
const out = prompts.map((p) => tok.encode(p, { add_special_tokens: false }).ids);
process.stdout.write(JSON.stringify(out));
