'use strict';
/**
 * Bundles the plugin's TypeScript (src/, and the lib/ modules it imports) into dist/index.js with esbuild.
 * npm packages stay external: they resolve from the project's node_modules at run time.
 *
 *   node plugins/offline-kafka/build.js        build now (npm run build:offline-kafka)
 *   require('./build').ensureBuilt()           build only when dist is missing or older than a source
 */
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');
const outFile = path.join(__dirname, 'dist', 'index.js');
const metaFile = path.join(__dirname, 'dist', 'meta.json');
const entry = path.join(__dirname, 'src', 'index.ts');

function mtime(file) {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return undefined;
  }
}

/** True when dist/index.js is missing, or a file it was built from changed (or vanished) since. */
function isStale() {
  const builtAt = mtime(outFile);
  if (builtAt === undefined || mtime(metaFile) === undefined) return true;
  let inputs;
  try {
    inputs = Object.keys(JSON.parse(fs.readFileSync(metaFile, 'utf8')).inputs);
  } catch {
    return true;
  }
  return inputs.some((input) => {
    const changed = mtime(path.resolve(root, input));
    return changed === undefined || changed > builtAt;
  });
}

function build() {
  const esbuild = require('esbuild');
  const result = esbuild.buildSync({
    absWorkingDir: root,
    entryPoints: [entry],
    outfile: outFile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    packages: 'external',
    metafile: true,
    write: false,
    logLevel: 'warning',
  });
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  // Several offline instances may start at once: write aside, then rename (atomic on one filesystem).
  const suffix = `.${process.pid}.${Date.now()}.tmp`;
  for (const file of result.outputFiles) {
    fs.writeFileSync(file.path + suffix, file.contents);
    fs.renameSync(file.path + suffix, file.path);
  }
  fs.writeFileSync(metaFile + suffix, JSON.stringify(result.metafile));
  fs.renameSync(metaFile + suffix, metaFile);
  return outFile;
}

/** The path of an up-to-date bundle, building it first when needed. */
function ensureBuilt() {
  if (!isStale()) return outFile;
  try {
    return build();
  } catch (error) {
    if (error?.code === 'MODULE_NOT_FOUND' && mtime(outFile) !== undefined) return outFile;
    throw new Error(`offline-kafka: could not build ${path.relative(root, outFile)} (${error?.message})`);
  }
}

module.exports = { build, ensureBuilt, isStale };

if (require.main === module) {
  build();
  console.log(`offline-kafka: built ${path.relative(root, outFile)}`);
}
