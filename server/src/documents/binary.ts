// Binary-content detection: a document whose text is really bytes of an executable, image or archive gets a clear
// refusal instead of a completion of garbage (CLI, WebSocket API and LSP all ask this one function).

import { isBinaryFileSync } from 'isbinaryfile';

/** Characters looked at: git's `buffer_is_binary` looks for a NUL in the first 8000 bytes; we do the same in UTF-16 units. */
const SCAN_UNITS = 8000;
/** Share of U+FFFD (bytes that were not UTF-8) above which the text is binary; isbinaryfile uses 10% for its suspicious bytes too. */
const MAX_REPLACEMENT_SHARE = 0.1;

/**
 * Why `text` looks like binary data rather than source code, or undefined when it looks like text. Three rules,
 * each from a well-known tool, applied to the first 8000 UTF-16 units:
 * - a NUL character (git's `buffer_is_binary`, also diff and grep -I);
 * - isbinaryfile (npm, after Perl's `-B`) on the UTF-8 bytes of the first 1024 characters (it scans 512 bytes):
 *   more than 10% control bytes outside 7–14 (BEL, backspace, tab, line ends, form feed) and not UTF-8, a `%PDF-`
 *   header, or a protobuf-like stream;
 * - more than 10% U+FFFD replacement characters, which is what a UTF-8 decoder (Node's, an editor's) makes of bytes
 *   that are not UTF-8 (a Latin-1 file with a few accents stays well below).
 * Pure and total: never throws; empty text is text.
 */
export function binaryContentReason(text: string): string | undefined {
  const head = text.length > SCAN_UNITS ? text.slice(0, SCAN_UNITS) : text;
  if (head.length === 0) return undefined;
  const nul = head.indexOf('\u0000');
  if (nul >= 0) return `it contains a NUL character (at offset ${nul}), so it is binary data, not text`;
  let replacements = 0;
  for (let i = 0; i < head.length; i++) if (head.charCodeAt(i) === 0xfffd) replacements++;
  if (replacements / head.length > MAX_REPLACEMENT_SHARE) {
    return `${Math.round((100 * replacements) / head.length)}% of its first ${head.length} characters are not valid UTF-8, so it is binary data, not text`;
  }
  try {
    const bytes = Buffer.from(head.slice(0, 1024), 'utf8');
    if (isBinaryFileSync(bytes, bytes.length)) return 'it is mostly control characters, so it is binary data, not text';
  } catch {
    // isbinaryfile only throws for bad arguments; a document is never refused because of the detector.
  }
  return undefined;
}
