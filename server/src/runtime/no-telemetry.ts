// Turns off onnxruntime's telemetry before its native library loads: imported for its side effect, first, by
// runtime/ort.ts and by main.ts.
//
// onnxruntime-node's native library starts a telemetry client by default: DNS lookups, an event store under
// ~/.cache/Microsoft/DeveloperTools/.onnxruntime/ (model and graph names, providers, durations), a `deviceid`
// file, and a /tmp/mat-debug-<pid>.log opened with O_TRUNC without O_NOFOLLOW (a planted symlink truncates its
// target). `ORT_DISABLE_TELEMETRY=1` in the environment when the library loads turns all of it off (issue 13).
// It is set in process.env, so worker threads and child processes created afterwards inherit it.

/** The environment variable onnxruntime reads when its native library loads. */
export const ORT_TELEMETRY_ENV = 'ORT_DISABLE_TELEMETRY';

process.env[ORT_TELEMETRY_ENV] = '1';
