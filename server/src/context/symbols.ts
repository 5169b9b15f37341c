// Imports, definitions and identifiers read from source text with tree-sitter (TS/TSX/JS/Python). Pure: broken code
// gives fewer results, never an exception.
import { identifierSet } from '../prompt/far-context.js';
import { parseText, type GrammarName, type SyntaxNode } from '../syntax/index.js';

/** One imported binding: `local` is the name used in this file; `imported` the name in the source module ('default' / '*' for default and namespace imports). */
export interface ImportBinding {
  local: string;
  imported: string;
}

/** One import of a module: its specifier as written ('./util', '../a/b.js', '.mod', 'pkg.mod') and its bindings. */
export interface ImportInfo {
  source: string;
  bindings: ImportBinding[];
}

export interface Definition {
  name: string;
  /** The definition's text: whole when at most `maxLines` lines, else its signature (see `extractDefinition`). */
  text: string;
  /** 0-based line of the definition's start in its file. */
  line: number;
}

function stringValue(node: SyntaxNode | null | undefined): string | undefined {
  if (!node) return undefined;
  if (node.type !== 'string' && node.type !== 'template_string') return undefined;
  const t = node.text;
  return t.length >= 2 ? t.slice(1, -1) : undefined;
}

function requireSource(value: SyntaxNode | null | undefined): string | undefined {
  if (!value || value.type !== 'call_expression') return undefined;
  const fn = value.childForFieldName('function');
  if (fn?.type !== 'identifier' || fn.text !== 'require') return undefined;
  const args = value.childForFieldName('arguments');
  return stringValue(args?.namedChildren[0]);
}

function jsImports(root: SyntaxNode): ImportInfo[] {
  const out: ImportInfo[] = [];
  for (const node of root.namedChildren) {
    if (node.type === 'import_statement') {
      const source = stringValue(node.childForFieldName('source'));
      if (source === undefined) continue;
      const bindings: ImportBinding[] = [];
      const clause = node.namedChildren.find((c) => c.type === 'import_clause');
      for (const part of clause?.namedChildren ?? []) {
        if (part.type === 'identifier') bindings.push({ local: part.text, imported: 'default' });
        else if (part.type === 'namespace_import') {
          const id = part.namedChildren.find((c) => c.type === 'identifier');
          if (id) bindings.push({ local: id.text, imported: '*' });
        } else if (part.type === 'named_imports') {
          for (const spec of part.namedChildren) {
            if (spec.type !== 'import_specifier') continue;
            const name = spec.childForFieldName('name')?.text;
            const alias = spec.childForFieldName('alias')?.text;
            if (name) bindings.push({ local: alias ?? name, imported: name });
          }
        }
      }
      out.push({ source, bindings });
    } else if (node.type === 'lexical_declaration' || node.type === 'variable_declaration') {
      // CommonJS: const X = require('./x'); const { a, b: c } = require('./x')
      for (const decl of node.namedChildren) {
        if (decl.type !== 'variable_declarator') continue;
        const source = requireSource(decl.childForFieldName('value'));
        if (source === undefined) continue;
        const name = decl.childForFieldName('name');
        const bindings: ImportBinding[] = [];
        if (name?.type === 'identifier') bindings.push({ local: name.text, imported: '*' });
        else if (name?.type === 'object_pattern') {
          for (const p of name.namedChildren) {
            if (p.type === 'shorthand_property_identifier_pattern') bindings.push({ local: p.text, imported: p.text });
            else if (p.type === 'pair_pattern') {
              const key = p.childForFieldName('key')?.text;
              const value = p.childForFieldName('value');
              if (key && value?.type === 'identifier') bindings.push({ local: value.text, imported: key });
            }
          }
        }
        out.push({ source, bindings });
      }
    }
  }
  return out;
}

function pyImports(root: SyntaxNode): ImportInfo[] {
  const out: ImportInfo[] = [];
  for (const node of root.namedChildren) {
    if (node.type === 'import_from_statement') {
      const mod = node.childForFieldName('module_name');
      if (!mod) continue;
      const bindings: ImportBinding[] = [];
      for (const n of node.childrenForFieldName('name')) {
        if (n.type === 'dotted_name') bindings.push({ local: n.text, imported: n.text });
        else if (n.type === 'aliased_import') {
          const name = n.childForFieldName('name')?.text;
          const alias = n.childForFieldName('alias')?.text;
          if (name) bindings.push({ local: alias ?? name, imported: name });
        }
      }
      out.push({ source: mod.text, bindings });
    } else if (node.type === 'import_statement') {
      for (const n of node.namedChildren) {
        if (n.type === 'dotted_name') out.push({ source: n.text, bindings: [{ local: n.text.split('.')[0]!, imported: '*' }] });
        else if (n.type === 'aliased_import') {
          const name = n.childForFieldName('name')?.text;
          const alias = n.childForFieldName('alias')?.text;
          if (name && alias) out.push({ source: name, bindings: [{ local: alias, imported: '*' }] });
        }
      }
    }
  }
  return out;
}

/** The imports at the top level of a file (ES modules, CommonJS `require`, Python `import` / `from … import`). */
export function importsOf(text: string, grammar: GrammarName): ImportInfo[] {
  const tree = parseText(grammar, text);
  if (!tree) return [];
  try {
    return grammar === 'python' ? pyImports(tree.rootNode) : jsImports(tree.rootNode);
  } catch {
    return [];
  }
}

/** Identifiers (and `a.b` member names as 'a.b') within `before` lines above and `after` lines below the cursor, nearest first, deduplicated. */
export function identifiersNear(prefix: string, suffix: string, before = 8, after = 3): string[] {
  const above = prefix.split('\n').slice(-before - 1);
  const below = suffix.split('\n').slice(0, after + 1);
  const lines = [...above.reverse(), ...below];
  const seen = new Set<string>();
  const out: string[] = [];
  const MEMBER = /([A-Za-z_$][\w$]*)(?:\s*\.\s*([A-Za-z_$][\w$]*))?/g;
  for (const line of lines) {
    for (const m of line.matchAll(MEMBER)) {
      for (const name of [m[1]!, m[2] ? `${m[1]}.${m[2]}` : '']) {
        if (name && !seen.has(name)) {
          seen.add(name);
          out.push(name);
        }
      }
    }
  }
  return out;
}

export { identifierSet };

// Node types that declare a name at the top level (or inside `export`).
const DECLARATIONS = new Set([
  'function_declaration',
  'generator_function_declaration',
  'class_declaration',
  'abstract_class_declaration',
  'interface_declaration',
  'type_alias_declaration',
  'enum_declaration',
  'lexical_declaration',
  'variable_declaration',
  'function_definition',
  'class_definition',
]);
const BODIES = new Set(['statement_block', 'class_body', 'block', 'object_type', 'interface_body', 'enum_body']);

function declaredNames(node: SyntaxNode): Array<{ name: string; node: SyntaxNode }> {
  if (node.type === 'lexical_declaration' || node.type === 'variable_declaration') {
    return node.namedChildren
      .filter((d) => d.type === 'variable_declarator' && d.childForFieldName('name')?.type === 'identifier')
      .map((d) => ({ name: d.childForFieldName('name')!.text, node }));
  }
  const name = node.childForFieldName('name');
  return name ? [{ name: name.text, node }] : [];
}

/** The statement's text cut to `maxLines`: whole when it fits, else its signature (the text before its body) plus the body's member signatures. */
function definitionText(node: SyntaxNode, source: string, maxLines: number, python: boolean): string {
  const text = source.slice(node.startIndex, node.endIndex);
  const lines = text.split('\n');
  if (lines.length <= maxLines) return text;
  // The body: the node's own body field, or the function/class value of a `const x = …` declarator.
  let holder: SyntaxNode | null = node;
  if (holder.type === 'export_statement') holder = holder.childForFieldName('declaration') ?? holder.namedChildren.find((c) => DECLARATIONS.has(c.type)) ?? holder;
  if (holder.type === 'lexical_declaration' || holder.type === 'variable_declaration') holder = holder.namedChildren[0]?.childForFieldName('value') ?? null;
  if (holder?.type === 'decorated_definition') holder = holder.childForFieldName('definition');
  const body = holder?.childForFieldName('body') ?? holder?.namedChildren.find((c) => BODIES.has(c.type)) ?? null;
  if (!body || !BODIES.has(body.type)) return lines.slice(0, maxLines).join('\n') + (python ? '\n    ...' : '\n  // …');
  const head = source.slice(node.startIndex, body.startIndex).replace(/\s+$/, '');
  const members: string[] = [];
  const isClass = body.type === 'class_body' || holder?.type === 'class_definition' || body.type === 'interface_body' || body.type === 'object_type';
  if (isClass) {
    for (const m of body.namedChildren) {
      if (m.type === 'comment') continue;
      const inner = m.type === 'decorated_definition' ? m.childForFieldName('definition') ?? m : m;
      const mBody = inner.childForFieldName('body');
      const sig = source.slice(m.startIndex, mBody && mBody.type !== 'expression' ? mBody.startIndex : m.endIndex).replace(/\s+$/, '');
      const first = sig.split('\n').map((l) => l.trim()).join(' ');
      members.push(first + (mBody && BODIES.has(mBody.type) ? (python ? ' ...' : ' { … }') : ''));
      if (members.length >= maxLines - 2) break;
    }
  }
  const indent = python ? '    ' : '  ';
  if (python) return [head, ...(members.length ? members.map((m) => indent + m) : [`${indent}...`])].join('\n');
  return [head + ' {', ...members.map((m) => indent + m), members.length ? '}' : '  // …\n}'].join('\n');
}

/**
 * Finds top-level definitions of `names` in a file: declarations (also under `export`, and Python decorated ones),
 * `exports.name = …` / `module.exports.name = …`, and for 'default' the `export default` / `module.exports =` target.
 * A name `A.b` finds member `b` of class `A` (or `A.prototype.b = …`). Each definition is whole when at most `maxLines`
 * lines, else its signature (class members as one-line signatures). Returns them in file order.
 */
export function extractDefinitions(text: string, grammar: GrammarName, names: readonly string[], maxLines = 12): Definition[] {
  const tree = parseText(grammar, text);
  if (!tree) return [];
  const python = grammar === 'python';
  const wanted = new Set(names);
  const found = new Map<string, Definition>();
  const add = (name: string, node: SyntaxNode) => {
    if (!found.has(name)) found.set(name, { name, text: definitionText(node, text, maxLines, python), line: node.startPosition.row });
  };
  try {
    const top = tree.rootNode.namedChildren;
    const declared = new Map<string, SyntaxNode>();
    let defaultTarget: string | undefined;
    for (const node of top) {
      let decl = node;
      if (node.type === 'export_statement') {
        const inner = node.childForFieldName('declaration') ?? node.namedChildren.find((c) => DECLARATIONS.has(c.type));
        if (inner) decl = inner;
        else if (/^export\s+default\b/.test(node.text)) {
          const value = node.childForFieldName('value') ?? node.namedChildren[0];
          if (value?.type === 'identifier') defaultTarget = value.text;
          else if (value && wanted.has('default')) add('default', node);
          continue;
        }
        if (inner && /^export\s+default\b/.test(node.text)) {
          const n = declaredNames(inner)[0]?.name;
          if (n) defaultTarget = n;
          if (wanted.has('default')) add('default', node);
        }
      }
      if (decl.type === 'decorated_definition') decl = decl.childForFieldName('definition') ?? decl;
      if (DECLARATIONS.has(decl.type)) {
        for (const d of declaredNames(decl)) if (!declared.has(d.name)) declared.set(d.name, node.type === 'export_statement' || node.type === 'decorated_definition' ? node : decl);
        continue;
      }
      // CommonJS and Python assignments: exports.x = …, module.exports = X, X.prototype.m = …, NAME = …
      const expr = node.type === 'expression_statement' ? node.namedChildren[0] : undefined;
      if (expr && (expr.type === 'assignment_expression' || expr.type === 'assignment')) {
        const left = expr.childForFieldName('left');
        const right = expr.childForFieldName('right');
        const l = left?.text.replace(/\s+/g, '') ?? '';
        if (l === 'module.exports') {
          if (right?.type === 'identifier') defaultTarget = right.text;
          else if (wanted.has('default')) add('default', node);
          continue;
        }
        const m = /^(?:module\.)?exports\.([\w$]+)$/.exec(l) ?? (python && /^[A-Za-z_]\w*$/.test(l) ? [l, l] : null);
        if (m && !declared.has(m[1]!)) declared.set(m[1]!, node);
        const proto = /^([\w$]+)\.prototype\.([\w$]+)$/.exec(l);
        if (proto && !declared.has(`${proto[1]}.${proto[2]}`)) declared.set(`${proto[1]}.${proto[2]}`, node);
      }
    }
    const resolveName = (name: string) => (name === 'default' && defaultTarget ? defaultTarget : name);
    for (const name of wanted) {
      const target = resolveName(name);
      const node = declared.get(target);
      if (node) {
        add(name, node);
        continue;
      }
      const dot = target.indexOf('.');
      if (dot > 0) {
        const owner = resolveName(target.slice(0, dot));
        const member = target.slice(dot + 1);
        const proto = declared.get(`${owner}.${member}`);
        if (proto) {
          add(name, proto);
          continue;
        }
        const cls = declared.get(owner);
        const m = cls ? memberNode(cls, member) : undefined;
        if (m && cls && !found.has(name)) {
          // The member with its own indentation under the first line of its class.
          const lineStart = text.lastIndexOf('\n', m.startIndex - 1) + 1;
          const indent = /^[ \t]*/.exec(text.slice(lineStart, m.startIndex))?.[0] ?? '';
          const owner = text.slice(cls.startIndex, text.indexOf('\n', cls.startIndex) < 0 ? cls.endIndex : text.indexOf('\n', cls.startIndex));
          const body = definitionText(m, text, maxLines, python);
          found.set(name, { name, text: `${owner}\n${indent}${body}${python ? '' : '\n}'}`, line: m.startPosition.row });
        }
      }
    }
  } catch {
    // Broken trees give what was found so far.
  }
  return [...found.values()].sort((a, b) => a.line - b.line);
}

function memberNode(node: SyntaxNode, member: string): SyntaxNode | undefined {
  let holder: SyntaxNode | null = node;
  if (holder.type === 'export_statement') holder = holder.childForFieldName('declaration') ?? holder.namedChildren[0] ?? null;
  if (holder?.type === 'decorated_definition') holder = holder.childForFieldName('definition');
  const body = holder?.childForFieldName('body');
  for (const m of body?.namedChildren ?? []) {
    const inner = m.type === 'decorated_definition' ? m.childForFieldName('definition') ?? m : m;
    if (inner.childForFieldName('name')?.text === member) return m;
  }
  return undefined;
}
