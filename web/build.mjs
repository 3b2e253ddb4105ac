// Builds web/dist (committed) from web/src: app.js (Preact, htm, FullCalendar, bundled
// and minified by esbuild), app.css (ours and FullCalendar's), index.html.  The same
// sources and the versions of package-lock.json give the same bytes: scripts/test
// rebuilds and compares (scripts/web-build --check).  Usage: node build.mjs [OUTDIR]
import {build} from 'esbuild';
import {copyFileSync, mkdirSync} from 'node:fs';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2] || join(here, 'dist');
mkdirSync(out, {recursive: true});
const common = {
  bundle: true, minify: true, legalComments: 'eof', charset: 'utf8', logLevel: 'warning',
  target: ['es2022', 'chrome110', 'firefox115', 'safari16'],
};
await build({...common, entryPoints: [join(here, 'src/main.js')], outfile: join(out, 'app.js'), format: 'iife'});
await build({...common, entryPoints: [join(here, 'src/app.css')], outfile: join(out, 'app.css')});
copyFileSync(join(here, 'src/index.html'), join(out, 'index.html'));
