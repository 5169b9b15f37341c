// Issue 13 item 6: language ids that are Object.prototype keys are ordinary unknown languages.

import { describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS, applySettings, cloneSettings, isLanguageEnabled } from '../../server/src/config/settings.js';
import { grammarFor } from '../../server/src/syntax/grammars.js';
import { analyzeCursor, syntaxErrorCount } from '../../server/src/syntax/index.js';

const PROTO_KEYS = ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf', '__defineGetter__'];

describe('Object.prototype keys as language ids', () => {
  it('have no grammar: plain text', () => {
    for (const id of PROTO_KEYS) expect(grammarFor(id)).toBeUndefined();
    expect(grammarFor('python')).toBe('python');
    for (const id of PROTO_KEYS) {
      expect(syntaxErrorCount('function (', id)).toBe(0);
      expect(() => analyzeCursor('x = (', 5, id)).not.toThrow();
    }
  });

  it('do not defeat enable: false', () => {
    const off = applySettings(DEFAULT_SETTINGS, { enable: false }).settings;
    for (const id of PROTO_KEYS) expect(isLanguageEnabled(off, id)).toBe(false);
    const onlyPython = applySettings(DEFAULT_SETTINGS, { enable: { '*': false, python: true } }).settings;
    expect(isLanguageEnabled(onlyPython, 'python')).toBe(true);
    for (const id of PROTO_KEYS) expect(isLanguageEnabled(onlyPython, id)).toBe(false);
    for (const id of PROTO_KEYS) expect(isLanguageEnabled(DEFAULT_SETTINGS, id)).toBe(true);
  });

  it('can be configured by name, including "__proto__", without touching any prototype', () => {
    const raw = JSON.parse('{"enable": {"__proto__": false, "constructor": false, "*": true}}') as Record<string, unknown>;
    const { settings, errors } = applySettings(DEFAULT_SETTINGS, raw);
    expect(errors).toEqual([]);
    expect(isLanguageEnabled(settings, '__proto__')).toBe(false);
    expect(isLanguageEnabled(settings, 'constructor')).toBe(false);
    expect(isLanguageEnabled(settings, 'toString')).toBe(true);
    expect(isLanguageEnabled(cloneSettings(settings), '__proto__')).toBe(false);
    expect(({} as Record<string, unknown>).constructor).toBe(Object); // nothing global was changed
    expect(Object.getPrototypeOf(settings.enable)).toBeNull();
  });
});
