// Packages the VS Code extension as a .vsix: the compiled extension plus, by default, a self-contained copy
// of the infill-ls server (bin/, server/dist/, grammars/, models/default/ and its production node_modules,
// with the native binaries of one platform only), so the .vsix needs nothing but VS Code.
//
//   node client/vscode/scripts/package.mjs [--target linux-x64] [--out FILE.vsix] [--no-server]
//
// --target   VS Code platform target (default: this machine's, e.g. linux-x64, darwin-arm64, win32-x64);
//            onnxruntime-node and tree-sitter binaries of other platforms are left out.
// --no-server  a small universal .vsix without the server; users set infill-ls.server.path to a checkout.
// --out      where the .vsix goes (default .work/vscode/infill-ls-<target>-<version>.vsix).
// --no-server-build  bundle the existing server/dist instead of compiling it first (npm test's global setup
//            has just built it, and recompiling would rewrite files other tests' servers are loading).
//
// Installs client/vscode's own dependencies (vscode-languageclient, @vscode/vsce) with `npm ci` there when
// they are missing, builds server/dist and client/vscode/out, stages everything in .work/vscode/stage, and
// runs vsce there. Writes only under .work/vscode (and client/vscode/out, node_modules) unless --out says otherwise.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const EXT = fileURLToPath(new URL('..', import.meta.url));
const REPO = path.resolve(EXT, '..', '..');
const WORK = path.join(REPO, '.work', 'vscode');
const TARGETS = ['linux-x64', 'linux-arm64', 'darwin-x64', 'darwin-arm64', 'win32-x64', 'win32-arm64'];

function fail(message) {
  process.stderr.write(`package.mjs: ${message}\n`);
  process.exit(1);
}

function parseArgs(argv) {
  const opts = { target: `${process.platform}-${process.arch}`, out: undefined, server: true, serverBuild: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) fail(`${a} needs a value`);
      return v;
    };
    if (a === '--target') opts.target = value();
    else if (a === '--out') opts.out = path.resolve(value());
    else if (a === '--no-server') opts.server = false;
    else if (a === '--no-server-build') opts.serverBuild = false;
    else if (a === '--help' || a === '-h') {
      process.stdout.write(fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').filter((l) => l.startsWith('//')).map((l) => l.slice(3)).join('\n') + '\n');
      process.exit(0);
    } else fail(`unknown argument ${JSON.stringify(a)} (known: --target, --out, --no-server, --no-server-build, --help)`);
  }
  if (opts.server && !TARGETS.includes(opts.target)) fail(`--target must be one of ${TARGETS.join(', ')}, got ${JSON.stringify(opts.target)}`);
  if (opts.out !== undefined && !opts.out.endsWith('.vsix')) fail(`--out must name a .vsix file, got ${JSON.stringify(opts.out)}`);
  return opts;
}

function run(cmd, args, cwd) {
  try {
    execFileSync(cmd, args, { cwd, stdio: ['ignore', 'inherit', 'inherit'] });
  } catch (err) {
    fail(`${path.basename(cmd)} ${args.join(' ')} (in ${cwd}) failed: ${err.status !== null ? `exit ${err.status}` : err.message}`);
  }
}

/** Production packages of a package-lock.json (v2/v3): `node_modules/...` keys not marked dev. */
function productionPackages(lockFile) {
  const lock = JSON.parse(fs.readFileSync(lockFile, 'utf8'));
  if (lock.packages === undefined) fail(`${lockFile} has no "packages" (lockfileVersion 2 or 3 needed)`);
  return Object.entries(lock.packages)
    .filter(([key, meta]) => key.startsWith('node_modules/') && meta.dev !== true && meta.devOptional !== true)
    .map(([key]) => key);
}

/** Copies the production node_modules of `fromRoot` (per its package-lock) to `toRoot`, filtered by `keep`. */
function copyProductionModules(fromRoot, toRoot, keep) {
  for (const key of productionPackages(path.join(fromRoot, 'package-lock.json'))) {
    const src = path.join(fromRoot, key);
    if (!fs.existsSync(src)) continue; // an optional package for another platform
    fs.cpSync(src, path.join(toRoot, key), {
      recursive: true,
      dereference: true,
      // Nested node_modules are their own lock entries; copying them here would bring dev-only packages.
      filter: (p) => !path.relative(src, p).split(path.sep).includes('node_modules') && keep(path.relative(fromRoot, p)),
    });
  }
}

/**
 * Files of the server's node_modules the .vsix leaves out: native binaries of other platforms, C sources,
 * WebAssembly builds and build intermediates (tree-sitter loads prebuilds/<platform>-<arch>, onnxruntime-node
 * bin/napi-v*\/<platform>/<arch>).
 */
function serverModuleFilter(target) {
  const [platform, arch] = target.split('-');
  return (rel) => {
    const parts = rel.split(path.sep);
    const prebuilds = parts.indexOf('prebuilds');
    if (prebuilds >= 0 && parts.length > prebuilds + 1 && parts[prebuilds + 1] !== target) return false;
    const ort = rel.match(/onnxruntime-node[\\/]bin[\\/]napi-v\d+[\\/]([^\\/]+)(?:[\\/]([^\\/]+))?/);
    if (ort && (ort[1] !== platform || (ort[2] !== undefined && ort[2] !== arch))) return false;
    if (/\.(c|cc|h|wasm|map|gyp|gypi)$/.test(rel)) return false;
    if (parts.includes('build') && parts[parts.indexOf('build') - 2] === 'node_modules') return false;
    return true;
  };
}

function ensureExtensionDependencies() {
  const need = ['vscode-languageclient', '@vscode/vsce', '@types/vscode'].filter((p) => !fs.existsSync(path.join(EXT, 'node_modules', p, 'package.json')));
  if (need.length === 0) return;
  console.log(`== client/vscode: npm ci (missing ${need.join(', ')})`);
  // Quiet install scripts (as .ci/test-deps.sh): `npm run package:vscode` exports the root .npmrc's foreground-scripts=true,
  // and the optional keytar (vsce's credential store, unused for packaging) prints a node-gyp failure where libsecret is missing.
  run('npm', ['ci', '--no-audit', '--no-fund', '--foreground-scripts=false'], EXT);
}

function stageServer(stage, target) {
  const dest = path.join(stage, 'server');
  const ortBinary = path.join(REPO, 'node_modules', 'onnxruntime-node', 'bin');
  if (!fs.existsSync(ortBinary)) fail(`${ortBinary} is missing: run "npm install" in ${REPO}`);
  const shipped = fs.readdirSync(ortBinary).flatMap((napi) =>
    fs.readdirSync(path.join(ortBinary, napi)).flatMap((os) => fs.readdirSync(path.join(ortBinary, napi, os)).map((cpu) => `${os}-${cpu}`)),
  );
  if (!shipped.includes(target)) {
    const version = JSON.parse(fs.readFileSync(path.join(REPO, 'node_modules', 'onnxruntime-node', 'package.json'), 'utf8')).version;
    fail(`onnxruntime-node ${version} ships no binaries for ${target} (it has ${[...new Set(shipped)].join(', ')})`);
  }
  fs.mkdirSync(dest, { recursive: true });
  fs.cpSync(path.join(REPO, 'bin'), path.join(dest, 'bin'), { recursive: true });
  fs.cpSync(path.join(REPO, 'server', 'dist'), path.join(dest, 'server', 'dist'), { recursive: true, filter: (p) => !p.endsWith('.map') });
  fs.cpSync(path.join(REPO, 'grammars'), path.join(dest, 'grammars'), { recursive: true });
  fs.cpSync(path.join(REPO, 'models', 'default'), path.join(dest, 'models', 'default'), { recursive: true, filter: (p) => !p.endsWith('.svg') });
  const root = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8'));
  const manifest = { name: root.name, version: root.version, description: root.description, license: root.license, type: root.type, private: true, dependencies: root.dependencies };
  fs.writeFileSync(path.join(dest, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  fs.copyFileSync(path.join(REPO, 'package-lock.json'), path.join(dest, 'package-lock.json'));
  copyProductionModules(REPO, dest, serverModuleFilter(target));
  fs.rmSync(path.join(dest, 'package-lock.json'));
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  const manifest = JSON.parse(fs.readFileSync(path.join(EXT, 'package.json'), 'utf8'));
  const out = opts.out ?? path.join(WORK, `infill-ls-${opts.server ? `${opts.target}-` : ''}${manifest.version}.vsix`);

  ensureExtensionDependencies();
  const tsc = createRequire(path.join(REPO, 'package.json')).resolve('typescript/bin/tsc');
  if (opts.server && opts.serverBuild) {
    console.log('== build server/dist');
    run(process.execPath, [tsc, '-p', 'tsconfig.json'], REPO);
  } else if (opts.server && !fs.existsSync(path.join(REPO, 'server', 'dist', 'main.js'))) {
    fail(`--no-server-build: ${path.join(REPO, 'server', 'dist', 'main.js')} is missing; run "npm run build" first`);
  }
  console.log('== build client/vscode/out');
  fs.rmSync(path.join(EXT, 'out'), { recursive: true, force: true });
  run(process.execPath, [tsc, '-p', 'tsconfig.json'], EXT);

  const stage = path.join(WORK, 'stage');
  console.log(`== stage ${stage}`);
  fs.rmSync(stage, { recursive: true, force: true });
  fs.mkdirSync(stage, { recursive: true });
  delete manifest.devDependencies;
  delete manifest.scripts;
  fs.writeFileSync(path.join(stage, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  fs.copyFileSync(path.join(EXT, 'README.md'), path.join(stage, 'README.md'));
  fs.cpSync(path.join(EXT, 'out'), path.join(stage, 'out'), { recursive: true, filter: (p) => !p.endsWith('.map') });
  copyProductionModules(EXT, stage, () => true);
  if (opts.server) stageServer(stage, opts.target);
  fs.writeFileSync(path.join(stage, '.vscodeignore'), '**/*.map\n**/*.ts\n!**/*.d.ts\n');

  console.log(`== vsce package → ${out}`);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const vsce = path.join(EXT, 'node_modules', '@vscode', 'vsce', 'vsce');
  const args = ['package', '--out', out, '--allow-missing-repository', '--skip-license'];
  if (opts.server) args.push('--target', opts.target);
  run(process.execPath, [vsce, ...args], stage);
  console.log(`== ${out} (${(fs.statSync(out).size / 1024 / 1024).toFixed(1)} MiB)`);
}

main();
