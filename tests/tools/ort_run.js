#!/usr/bin/env node
// Runs an ONNX model with ONNX Runtime (npm onnxruntime-node, CPU) on one
// float32 .npy input and writes its first output as .npy:
//   node ort_run.js [-t THREADS] [-w WARMUP] MODEL.onnx IN.npy OUT.npy
// Prints "seconds: X", the time of the last session.run (the line tf-bench
// --ref-cmd takes as the command's time), after WARMUP untimed runs.
// ONNX Runtime is found in $TFSWA_ORT (default build/ort, see tools/ort.sh).
'use strict';
const fs = require('fs');
const path = require('path');

function fail(msg) {
	process.stderr.write('ort_run: ' + msg + '\n');
	process.exit(1);
}

const args = process.argv.slice(2);
let threads = 0, warmup = 0;
while (args.length && args[0].startsWith('-')) {
	const opt = args.shift(), v = Number(args.shift());
	if (!Number.isInteger(v) || v < 0) fail(opt + ': expected a count');
	if (opt === '-t') threads = v;
	else if (opt === '-w') warmup = v;
	else fail('unknown option ' + opt);
}
if (args.length !== 3) fail('usage: ort_run.js [-t THREADS] [-w WARMUP] MODEL.onnx IN.npy OUT.npy');
const [modelPath, inPath, outPath] = args;
const ortDir = process.env.TFSWA_ORT || path.join(__dirname, '..', '..', 'build', 'ort');
const ort = require(path.join(ortDir, 'node_modules', 'onnxruntime-node'));

// .npy version 1/2, little-endian float32, C order
function readNpy(file) {
	const b = fs.readFileSync(file);
	if (b.toString('latin1', 0, 6) !== '\x93NUMPY') fail(file + ': not a .npy file');
	const major = b[6], hlen = major === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
	const start = (major === 1 ? 10 : 12) + hlen, header = b.toString('latin1', start - hlen, start);
	if (!/'descr':\s*'<f4'/.test(header) || /'fortran_order':\s*True/.test(header))
		fail(file + ': expected little-endian float32 in C order, got ' + header.trim());
	const dims = header.match(/'shape':\s*\(([^)]*)\)/)[1].split(',').filter(s => s.trim()).map(Number);
	const n = dims.reduce((a, d) => a * d, 1);
	if (b.length - start !== 4 * n) fail(file + ': ' + (b.length - start) + ' data bytes for shape ' + dims);
	const data = new Float32Array(n);
	for (let i = 0; i < n; i++) data[i] = b.readFloatLE(start + 4 * i);
	return { dims, data };
}

function writeNpy(file, dims, data) {
	let h = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims.join(', ') + (dims.length === 1 ? ',' : '') + '), }';
	h += ' '.repeat(63 - ((10 + h.length) % 64)) + '\n';
	const head = Buffer.alloc(10);
	head.write('\x93NUMPY', 0, 'latin1');
	head[6] = 1, head[7] = 0;
	head.writeUInt16LE(h.length, 8);
	const body = Buffer.alloc(4 * data.length);
	for (let i = 0; i < data.length; i++) body.writeFloatLE(data[i], 4 * i);
	const tmp = file + '.tmp';
	fs.writeFileSync(tmp, Buffer.concat([head, Buffer.from(h, 'latin1'), body]));
	fs.renameSync(tmp, file);
}

(async () => {
	const x = readNpy(inPath);
	const opts = { executionProviders: ['cpu'], graphOptimizationLevel: 'all' };
	if (threads) opts.intraOpNumThreads = threads, opts.interOpNumThreads = 1;
	const session = await ort.InferenceSession.create(modelPath, opts);
	const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', x.data, x.dims) };
	let out, seconds = 0;
	for (let r = 0; r <= warmup; r++) {
		const t0 = process.hrtime.bigint();
		out = await session.run(feeds);
		seconds = Number(process.hrtime.bigint() - t0) * 1e-9;
	}
	const y = out[session.outputNames[0]];
	writeNpy(outPath, y.dims, y.data);
	console.log('seconds: ' + seconds.toFixed(4));
})().catch(e => fail(String(e.message || e).split('\n')[0]));
