#!/usr/bin/env node
// Every option of the public API documented with its default.
//
// Walks the types exported from src/index.ts whose names end in Options,
// Config, Tuning, Files or Spec, and lists each property that has no doc
// comment, or that is optional and says nothing of its default (an
// `@default` tag, or the word "default" in its comment). Properties
// inherited from Node's own types are skipped.
//
//   node scripts/option-docs.mjs      (npm run docs:check) prints the gaps, exit 1 if any
import ts from 'typescript';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** @returns {{ option: string, file: string, problem: 'no doc' | 'no default' }[]} */
export function optionDocGaps() {
  const entry = `${ROOT}src/index.ts`;
  const program = ts.createProgram([entry], {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    allowImportingTsExtensions: true,
    noEmit: true,
    strict: true,
    types: ['node'],
  });
  const checker = program.getTypeChecker();
  const mod = checker.getSymbolAtLocation(program.getSourceFile(entry));
  const gaps = [];
  for (const exp of checker.getExportsOfModule(mod)) {
    if (!/(Options|Config|Tuning|Files|Spec)$/.test(exp.name)) continue;
    const sym = exp.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exp) : exp;
    if (!(sym.flags & (ts.SymbolFlags.Interface | ts.SymbolFlags.TypeAlias))) continue;
    for (const p of checker.getDeclaredTypeOfSymbol(sym).getProperties()) {
      const d = p.valueDeclaration ?? p.declarations?.[0];
      if (!d) continue;
      const file = relative(ROOT, d.getSourceFile().fileName);
      if (file.startsWith('node_modules')) continue;
      const doc = ts.displayPartsToString(p.getDocumentationComment(checker));
      const tags = p.getJsDocTags(checker);
      const option = `${exp.name}.${p.name}`;
      if (doc.trim() === '' && tags.length === 0) gaps.push({ option, file, problem: 'no doc' });
      else if ((p.flags & ts.SymbolFlags.Optional) !== 0 && !tags.some((t) => t.name === 'default') && !/\bdefault/i.test(doc)) gaps.push({ option, file, problem: 'no default' });
    }
  }
  return gaps;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const gaps = optionDocGaps();
  for (const g of gaps) process.stdout.write(`${g.file}: ${g.option}: ${g.problem}\n`);
  process.stdout.write(`${gaps.length} option(s) without a documented default\n`);
  process.exitCode = gaps.length === 0 ? 0 : 1;
}
