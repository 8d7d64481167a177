import * as esbuild from 'esbuild';
const entry = process.argv[2];
const r = await esbuild.build({ entryPoints: [entry], bundle: true, platform: 'node', target: 'node24', format: 'esm', minify: true, mainFields: ['module','main'], write: false, outfile: '/tmp/wt-cold-an/out.mjs', metafile: true, logLevel: 'warning' });
const out = Object.values(r.metafile.outputs)[0];
const groups = {};
for (const [p, v] of Object.entries(out.inputs)) {
  let m = p.match(/node_modules\/((@[^/]+\/)?[^/]+)\/(dist-[a-z]+|lib|dist)?/); const k = m ? m[1]+'/'+(m[3]??'') : p;
  groups[k] = (groups[k] ?? 0) + v.bytesInOutput;
}
console.log('total', out.bytes);
for (const [k, v] of Object.entries(groups).sort((a,b)=>b[1]-a[1]).slice(0, Number(process.argv[3]??60))) console.log(String(v).padStart(8), k);
