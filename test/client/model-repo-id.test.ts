// The VS Code extension forwards a Hugging Face repo id as modelDir unchanged (the server resolves it in the hub
// cache), unless a folder of that name exists in the workspace.
import { describe, expect, it } from 'vitest';
import { serverSettings } from '../../client/vscode/src/settings.js';

const reader = (values: Record<string, unknown>) => ({ get: <T>(key: string) => values[key] as T | undefined });

describe('serverSettings with a Hub repo id as modelDir', () => {
  it('sends org/name[@rev] as is when no such folder exists, and the folder when it does', () => {
    const none = () => false;
    expect(serverSettings(reader({ modelDir: 'onnx-community/Qwen2.5-Coder-1.5B' }), '/work/project', none)).toEqual({ modelDir: 'onnx-community/Qwen2.5-Coder-1.5B' });
    expect(serverSettings(reader({ modelDir: ' org/name@v1.0 ' }), '/work/project', none)).toEqual({ modelDir: 'org/name@v1.0' });
    expect(serverSettings(reader({ modelDir: 'org/name' }), '/work/project', (p) => p === '/work/project/org/name')).toEqual({ modelDir: '/work/project/org/name' });
    // Paths that are no repo id resolve as before, existing or not.
    expect(serverSettings(reader({ modelDir: './models/mine' }), '/work/project', none)).toEqual({ modelDir: '/work/project/models/mine' });
    expect(serverSettings(reader({ modelDir: 'a/b/c' }), '/work/project', none)).toEqual({ modelDir: '/work/project/a/b/c' });
    expect(serverSettings(reader({ modelDir: '~/m/x' }), undefined, none)).not.toEqual({ modelDir: '~/m/x' });
  });
});
