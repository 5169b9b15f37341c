// cli/: the `complete`, `eval` and `models` commands as functions main.ts dispatches to.
export { runComplete, offsetOf, COMPLETE_USAGE } from './complete.js';
export { runEval, parseTask, EVAL_USAGE, type EvalTask } from './eval.js';
export { runModels, MODELS_USAGE } from './models.js';
