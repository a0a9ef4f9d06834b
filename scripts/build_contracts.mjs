#!/usr/bin/env node
// Compiles contracts/*.sol with the pinned solc-js and writes one artifact per contract to
// src/ipchain/data/contracts/. Artifacts are committed so a Python-only user needs no Node.
//   node scripts/build_contracts.mjs           write artifacts
//   node scripts/build_contracts.mjs --check   exit 1 when committed artifacts differ from sources
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const solc = require("solc");

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const SOURCES = path.join(ROOT, "contracts");
const OUT = path.join(ROOT, "src", "ipchain", "data", "contracts");
// Pinned: py-evm 0.12 executes up to Prague; solc 0.8.37 would default to Osaka.
const EVM_VERSION = "prague";
const SETTINGS = {
  evmVersion: EVM_VERSION,
  optimizer: { enabled: true, runs: 200 },
  viaIR: true,
  outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object", "devdoc", "userdoc"] } },
};

function findImport(importPath) {
  const candidates = [path.join(ROOT, "node_modules", importPath), path.join(SOURCES, importPath)];
  for (const candidate of candidates) {
    if (fs.existsSync(candidate)) return { contents: fs.readFileSync(candidate, "utf8") };
  }
  return { error: `import not found: ${importPath}` };
}

const sources = {};
for (const name of fs.readdirSync(SOURCES).filter((f) => f.endsWith(".sol")).sort()) {
  sources[name] = { content: fs.readFileSync(path.join(SOURCES, name), "utf8") };
}
const input = { language: "Solidity", sources, settings: SETTINGS };
const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImport }));
const errors = (output.errors || []).filter((e) => e.severity === "error");
for (const e of output.errors || []) console.error(e.formattedMessage);
if (errors.length) process.exit(1);

const artifacts = {};
for (const [file, contracts] of Object.entries(output.contracts)) {
  if (!sources[file]) continue; // library sources (OpenZeppelin) get no artifact of their own
  for (const [name, c] of Object.entries(contracts)) {
    if (!c.evm.bytecode.object) continue; // interfaces and abstract contracts
    artifacts[name] = {
      contractName: name,
      sourceName: `contracts/${file}`,
      compiler: { name: "solc-js", version: solc.version() },
      settings: { evmVersion: EVM_VERSION, optimizer: SETTINGS.optimizer, viaIR: SETTINGS.viaIR },
      abi: c.abi,
      bytecode: "0x" + c.evm.bytecode.object,
      deployedBytecode: "0x" + c.evm.deployedBytecode.object,
      devdoc: c.devdoc,
      userdoc: c.userdoc,
    };
  }
}

const check = process.argv.includes("--check");
let drift = 0;
fs.mkdirSync(OUT, { recursive: true });
for (const [name, artifact] of Object.entries(artifacts)) {
  const file = path.join(OUT, `${name}.json`);
  const text = JSON.stringify(artifact, null, 2) + "\n";
  if (check) {
    if (!fs.existsSync(file) || fs.readFileSync(file, "utf8") !== text) {
      console.error(`artifact drift: ${path.relative(ROOT, file)} differs from contracts/ (run make contracts)`);
      drift++;
    }
  } else {
    fs.writeFileSync(file, text);
    console.log(`wrote ${path.relative(ROOT, file)}`);
  }
}
if (check) {
  const known = new Set(Object.keys(artifacts).map((n) => `${n}.json`));
  for (const f of fs.readdirSync(OUT)) {
    if (f.endsWith(".json") && !known.has(f)) {
      console.error(`stale artifact: ${f} has no source`);
      drift++;
    }
  }
  if (drift) process.exit(1);
  console.log(`artifacts match sources (${Object.keys(artifacts).length} contracts, solc ${solc.version()})`);
}
