// Loads everything a completion needs from a model directory: the ONNX model, its tokenizer and its FIM template.
import { loadModel, type LoadedModel, type LoadModelOptions } from '../runtime/index.js';
import { Tokenizer } from '../tokenizer/index.js';
import { detectTemplate, type FimTemplate, type TemplateOverride } from '../prompt/index.js';
import { ModelLoadError } from '../util/errors.js';
import { resolveModelFiles } from '../runtime/index.js';
import { resolveModelDir } from '../hub/cache.js';

export interface LoadedBundle {
  model: LoadedModel;
  tokenizer: Tokenizer;
  /** null when the vocabulary has no FIM sentinels (the engine then reports itself degraded). */
  template: FimTemplate | null;
}

/**
 * Largest plausible gap between the LM head and the tokenizer: exports pad the embedding to a multiple
 * of 64..256 (Qwen2.5: 151936 rows for 151665 tokens); a wider gap means the files do not belong together.
 */
export function vocabGapAllowed(modelVocab: number): number {
  return Math.max(320, Math.floor(modelVocab * 0.01));
}

/** Checks that the tokenizer's ids fit the model's logits; throws ModelLoadError naming tokenizer.json. */
export function checkVocab(tokenizer: Tokenizer, tokenizerPath: string, modelVocab: number, onnxPath: string): void {
  if (!modelVocab) return;
  const n = tokenizer.vocabSize;
  if (n > modelVocab) {
    throw new ModelLoadError('vocab-mismatch', tokenizerPath, `has ${n} tokens but the model (${onnxPath}) has only ${modelVocab} logits; the tokenizer does not belong to this model`);
  }
  if (modelVocab - n > vocabGapAllowed(modelVocab)) {
    throw new ModelLoadError('vocab-mismatch', tokenizerPath, `has ${n} tokens but the model (${onnxPath}) has ${modelVocab} logits; the tokenizer does not belong to this model`);
  }
}

export async function loadBundle(requested: LoadModelOptions & { fim?: TemplateOverride }): Promise<LoadedBundle> {
  // A repo id (org/name[@rev]) that is not a local directory loads from the Hugging Face cache, offline.
  const options = { ...requested, modelDir: resolveModelDir(requested.modelDir) };
  // Cheap checks first (files, tokenizer) so a bad directory fails before the model is parsed.
  const files = resolveModelFiles(options.modelDir, { dtype: options.dtype });
  const tokenizer = Tokenizer.fromFiles(files.tokenizerPath, files.tokenizerConfigPath);
  const cfgVocab = files.config['vocab_size'];
  if (typeof cfgVocab === 'number') checkVocab(tokenizer, files.tokenizerPath, cfgVocab, files.configPath);
  const model = await loadModel(options);
  try {
    checkVocab(tokenizer, files.tokenizerPath, model.vocabSize, model.files.onnxPath);
  } catch (e) {
    await model.dispose();
    throw e;
  }
  const template = detectTemplate(tokenizer, { override: options.fim, modelConfig: files.config });
  return { model, tokenizer, template };
}
