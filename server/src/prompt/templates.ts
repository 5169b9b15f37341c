// FIM templates per model family, detected from the tokenizer's own special tokens (never from model names).

export type FimFamily = 'starcoder' | 'qwen' | 'deepseek' | 'codellama' | 'codestral';
/** PSM: prefix, suffix, then middle. SPM: suffix first, then prefix (the cache-friendly order while typing). */
export type FimMode = 'psm' | 'spm';

/** What prompt building needs from a vocabulary. */
export interface SpecialTokenLookup {
  tokenToId(token: string): number | undefined;
  readonly eosTokenId?: number | undefined;
  readonly bosTokenId?: number | undefined;
  readonly addBosToken?: boolean;
}

export interface FimTemplate {
  family: FimFamily;
  mode: FimMode;
  prefixId: number;
  suffixId: number;
  /** Absent for Codestral, whose middle follows the prefix directly. */
  middleId: number | null;
  /** Prepended to every prompt (families whose tokenizer adds BOS, and Codestral). */
  bosId: number | null;
  /** Tokens that end a completion: EOS, pads, file separators, every FIM sentinel. */
  stopIds: number[];
  /** Repository-level sentinels (StarCoder2 `<repo_name>`/`<file_sep>`, Qwen2.5-Coder `<|repo_name|>`/`<|file_sep|>`), when the vocabulary has both. */
  repoNameId?: number;
  fileSepId?: number;
}

export interface TemplateOverride {
  family?: FimFamily;
  mode?: FimMode;
}

interface FamilySpec {
  family: FimFamily;
  /** Candidate spellings of each sentinel; the first one the vocabulary has wins. */
  prefix: string[];
  suffix: string[];
  middle: string[] | null;
  stops: string[];
  modes: FimMode[];
  bos: 'tokenizer' | 'always';
  /** Repository-level sentinels [repo name, file separator], when the family has them. */
  repo?: [string, string];
}

/** Checked in this order; the first family whose prefix and suffix sentinels exist is used. */
const FAMILIES: readonly FamilySpec[] = [
  {
    family: 'qwen',
    prefix: ['<|fim_prefix|>'],
    suffix: ['<|fim_suffix|>'],
    middle: ['<|fim_middle|>'],
    stops: ['<|endoftext|>', '<|fim_pad|>', '<|file_sep|>', '<|repo_name|>', '<|im_end|>'],
    modes: ['psm', 'spm'],
    bos: 'tokenizer',
    repo: ['<|repo_name|>', '<|file_sep|>'],
  },
  {
    family: 'starcoder',
    prefix: ['<fim_prefix>', '<fim-prefix>'],
    suffix: ['<fim_suffix>', '<fim-suffix>'],
    middle: ['<fim_middle>', '<fim-middle>'],
    stops: ['<|endoftext|>', '<fim_pad>', '<fim-pad>', '<file_sep>', '<repo_name>', '<filename>'],
    modes: ['psm', 'spm'],
    bos: 'tokenizer',
    repo: ['<repo_name>', '<file_sep>'],
  },
  {
    family: 'deepseek',
    prefix: ['<｜fim▁begin｜>'],
    suffix: ['<｜fim▁hole｜>'],
    middle: ['<｜fim▁end｜>'],
    stops: ['<｜end▁of▁sentence｜>', '<|EOT|>'],
    modes: ['psm'],
    bos: 'tokenizer',
  },
  {
    family: 'codellama',
    prefix: ['▁<PRE>', '<PRE>'],
    suffix: ['▁<SUF>', '<SUF>'],
    middle: ['▁<MID>', '<MID>'],
    stops: ['▁<EOT>', '<EOT>', '</s>'],
    modes: ['psm', 'spm'],
    bos: 'tokenizer',
  },
  {
    family: 'codestral',
    prefix: ['[PREFIX]'],
    suffix: ['[SUFFIX]'],
    middle: null,
    stops: ['</s>', '[MIDDLE]'],
    modes: ['spm'],
    bos: 'always',
  },
];

function firstId(vocab: SpecialTokenLookup, names: readonly string[]): number | undefined {
  for (const n of names) {
    const id = vocab.tokenToId(n);
    if (id !== undefined) return id;
  }
  return undefined;
}

/** `infill_ls.fim_mode` from a model's config.json, when valid. */
export function configFimMode(modelConfig: Record<string, unknown> | undefined): FimMode | undefined {
  const block = modelConfig?.['infill_ls'];
  const mode = block && typeof block === 'object' ? (block as Record<string, unknown>)['fim_mode'] : undefined;
  return mode === 'psm' || mode === 'spm' ? mode : undefined;
}

/**
 * Detects the FIM template from the vocabulary's special tokens. Mode precedence: override.mode, then
 * config.json `infill_ls.fim_mode`, then the family's default (its first mode); a mode the family does not
 * support falls back to the default. Returns null when the vocabulary has no known FIM sentinels.
 */
export function detectTemplate(
  vocab: SpecialTokenLookup,
  options: { override?: TemplateOverride; modelConfig?: Record<string, unknown> } = {},
): FimTemplate | null {
  const specs = options.override?.family ? FAMILIES.filter((f) => f.family === options.override!.family) : FAMILIES;
  for (const spec of specs) {
    const prefixId = firstId(vocab, spec.prefix);
    const suffixId = firstId(vocab, spec.suffix);
    const middleId = spec.middle ? firstId(vocab, spec.middle) : null;
    if (prefixId === undefined || suffixId === undefined || middleId === undefined) continue;
    const wanted = options.override?.mode ?? configFimMode(options.modelConfig);
    const mode = wanted && spec.modes.includes(wanted) ? wanted : spec.modes[0]!;
    const stopIds = new Set<number>();
    for (const s of spec.stops) {
      const id = vocab.tokenToId(s);
      if (id !== undefined) stopIds.add(id);
    }
    for (const id of [prefixId, suffixId, middleId]) if (id !== null) stopIds.add(id);
    if (vocab.eosTokenId !== undefined) stopIds.add(vocab.eosTokenId);
    const bos = vocab.bosTokenId ?? (spec.bos === 'always' ? vocab.tokenToId('<s>') : undefined);
    const bosId = bos !== undefined && (spec.bos === 'always' || vocab.addBosToken) ? bos : null;
    const template: FimTemplate = { family: spec.family, mode, prefixId, suffixId, middleId, bosId, stopIds: [...stopIds] };
    const repoNameId = spec.repo ? vocab.tokenToId(spec.repo[0]) : undefined;
    const fileSepId = spec.repo ? vocab.tokenToId(spec.repo[1]) : undefined;
    if (repoNameId !== undefined && fileSepId !== undefined) Object.assign(template, { repoNameId, fileSepId });
    return template;
  }
  return null;
}
