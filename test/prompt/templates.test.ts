// FIM template detection from the vocabulary's special tokens, per family, with mode precedence and stop tokens.
import { describe, expect, test } from 'vitest';
import { detectTemplate, type SpecialTokenLookup } from '../../server/src/prompt/index.js';

function vocab(tokens: string[], extra: Partial<SpecialTokenLookup> = {}): SpecialTokenLookup & { ids: Map<string, number> } {
  const ids = new Map(tokens.map((t, i) => [t, 1000 + i]));
  return { ids, tokenToId: (t) => ids.get(t), ...extra };
}

describe('detectTemplate', () => {
  test('StarCoder: PSM by default, stop on EOS, pad, file separator and every sentinel', () => {
    const v = vocab(['<|endoftext|>', '<fim_prefix>', '<fim_middle>', '<fim_suffix>', '<fim_pad>', '<file_sep>', '<repo_name>'], { eosTokenId: 1000 });
    const t = detectTemplate(v)!;
    expect(t).toMatchObject({ family: 'starcoder', mode: 'psm', prefixId: 1001, middleId: 1002, suffixId: 1003, bosId: null });
    expect(new Set(t.stopIds)).toEqual(new Set([1000, 1001, 1002, 1003, 1004, 1005, 1006]));
  });

  test("our default model: config.json infill_ls.fim_mode 'spm' selects SPM; an override wins over it", () => {
    const v = vocab(['<|endoftext|>', '<fim_prefix>', '<fim_middle>', '<fim_suffix>']);
    const modelConfig = { infill_ls: { packed: true, fim_mode: 'spm' } };
    expect(detectTemplate(v, { modelConfig })!.mode).toBe('spm');
    expect(detectTemplate(v, { modelConfig, override: { mode: 'psm' } })!.mode).toBe('psm');
  });

  test('Qwen2.5-Coder', () => {
    const v = vocab(['<|endoftext|>', '<|fim_prefix|>', '<|fim_middle|>', '<|fim_suffix|>', '<|fim_pad|>', '<|repo_name|>', '<|file_sep|>', '<|im_end|>']);
    const t = detectTemplate(v)!;
    expect(t).toMatchObject({ family: 'qwen', mode: 'psm', prefixId: 1001, middleId: 1002, suffixId: 1003 });
    expect(t.stopIds).toEqual(expect.arrayContaining([1000, 1004, 1005, 1006, 1007]));
  });

  test('DeepSeek-Coder: full-width bars and ▁ are part of the tokens; SPM is not supported, so PSM stays', () => {
    const v = vocab(['<｜end▁of▁sentence｜>', '<｜fim▁begin｜>', '<｜fim▁hole｜>', '<｜fim▁end｜>', '<｜begin▁of▁sentence｜>'], {
      bosTokenId: 1004,
      addBosToken: true,
    });
    const t = detectTemplate(v, { override: { mode: 'spm' } })!;
    expect(t).toMatchObject({ family: 'deepseek', mode: 'psm', prefixId: 1001, suffixId: 1002, middleId: 1003, bosId: 1004 });
    expect(t.stopIds).toContain(1000);
  });

  test('CodeLlama: ▁<PRE> spelling, EOT stops', () => {
    const v = vocab(['</s>', '▁<PRE>', '▁<SUF>', '▁<MID>', '▁<EOT>', '<s>'], { bosTokenId: 1005, addBosToken: true, eosTokenId: 1000 });
    const t = detectTemplate(v)!;
    expect(t).toMatchObject({ family: 'codellama', mode: 'psm', prefixId: 1001, suffixId: 1002, middleId: 1003, bosId: 1005 });
    expect(t.stopIds).toEqual(expect.arrayContaining([1000, 1004]));
  });

  test('Codestral: suffix first, no middle token, BOS always', () => {
    const v = vocab(['</s>', '[PREFIX]', '[SUFFIX]', '<s>']);
    expect(detectTemplate(v)).toMatchObject({ family: 'codestral', mode: 'spm', prefixId: 1001, suffixId: 1002, middleId: null, bosId: 1003 });
  });

  test('a vocabulary without FIM sentinels has no template; a family override restricts detection', () => {
    expect(detectTemplate(vocab(['<|endoftext|>', '<s>']))).toBeNull();
    expect(detectTemplate(vocab(['<fim_prefix>', '<fim_middle>', '<fim_suffix>']), { override: { family: 'qwen' } })).toBeNull();
  });
});
