// Per-test timeouts (and time budgets) for tests that run the model, scaled by INFILL_LS_TEST_TIMEOUT_SCALE (default 1): under
// bench/cpu/avx2.sh's CPU emulation (QEMU TCG) the model runs tens of times slower, and that script sets it.
export function modelTimeout(ms: number): number {
  const scale = Number(process.env.INFILL_LS_TEST_TIMEOUT_SCALE ?? 1);
  return Number.isFinite(scale) && scale > 0 ? ms * scale : ms;
}
