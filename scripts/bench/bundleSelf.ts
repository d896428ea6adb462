import { build } from "esbuild"
import { mkdtempSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

/** Bundles a bench script into one ESM file, so each measured child starts without tsx in the way. */
export const bundleSelf = async (entryUrl: string, name: string): Promise<string> => {
  const outfile = path.join(mkdtempSync(path.join(os.tmpdir(), `bench-${name}-bundle-`)), `${name}.mjs`)
  await build({
    entryPoints: [fileURLToPath(entryUrl)],
    outfile,
    bundle: true,
    platform: "node",
    target: "node20",
    format: "esm",
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    logLevel: "warning"
  })
  return outfile
}
