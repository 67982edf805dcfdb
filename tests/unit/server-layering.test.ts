// The layering the two servers keep: the cloud (src/cloud) and the node's core (src/main/core) never import each
// other, and what they share (src/server) imports neither. Read from the import statements themselves, so a
// new file that crosses a line fails here, not in a deployment without the other half.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) return sources(full);
    return name.endsWith('.ts') ? [full] : [];
  });
}

/** Every relative module a file imports (static, dynamic, re-exports), as a repo path. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => m[1]!);
  return specs.map((s) => relative(root, resolve(dirname(file), s)).split('\\').join('/'));
}

function crossings(from: string, forbidden: string[]): string[] {
  return sources(join(root, from)).flatMap((file) => importsOf(file)
    .filter((target) => forbidden.some((f) => target === f || target.startsWith(`${f}/`)))
    .map((target) => `${relative(root, file)} -> ${target}`));
}

describe('server layering', () => {
  it('src/cloud imports nothing of src/main', () => {
    assert.deepEqual(crossings('src/cloud', ['src/main']), []);
  });
  it('src/main/core imports nothing of src/cloud', () => {
    assert.deepEqual(crossings('src/main/core', ['src/cloud']), []);
  });
  it('src/server imports neither the node nor the cloud', () => {
    assert.deepEqual(crossings('src/server', ['src/main', 'src/cloud']), []);
  });
});
