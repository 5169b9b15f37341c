// Writes synthetic model directories (config.json, tokenizer files, onnx/model.onnx) into temp folders for tests.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildSyntheticModel, type SyntheticOptions } from './synthetic-model.js';
import { tinyTokenizer, type TinyTokenizer } from './tiny-tokenizer.js';

export interface SyntheticDir {
  dir: string;
  tokenizer: TinyTokenizer;
  vocab: number;
}

export function tempDir(prefix = 'infill-ls-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function writeSyntheticModelDir(
  options: Omit<SyntheticOptions, 'vocab'> & { tokenizer?: TinyTokenizer; vocab?: number; config?: Record<string, unknown>; onnxName?: string } = { layout: 'per-layer' },
): SyntheticDir {
  const dir = tempDir();
  const tok = options.tokenizer ?? tinyTokenizer();
  const vocab = options.vocab ?? tok.vocabSize;
  fs.mkdirSync(path.join(dir, 'onnx'));
  const layers = options.layers ?? 2;
  const config = {
    model_type: options.layout === 'fused' ? 'gpt_bigcode' : 'llama',
    vocab_size: vocab,
    num_hidden_layers: layers,
    n_layer: layers,
    ...(options.layout === 'packed' ? { infill_ls: { packed: true, fim_mode: 'spm' } } : {}),
    ...options.config,
  };
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tok.json));
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(tok.config));
  fs.writeFileSync(path.join(dir, 'onnx', options.onnxName ?? 'model.onnx'), buildSyntheticModel({ ...options, vocab }));
  return { dir, tokenizer: tok, vocab };
}
