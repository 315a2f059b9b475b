/**
 * The safeguard of a clean merge: the merged file is parsed, bound and checked on its own, imports
 * unresolved, and its diagnostics are compared with those of base, ours and theirs checked the same
 * way. A diagnostic that no input had means the merge broke the file (two declarations of one name,
 * a name that no longer resolves, a class with two base classes): such a result is not clean.
 *
 * Only diagnostics that a file shows the same way whatever its imports resolve to are compared
 * ({@link guardedCodes}): the checker cannot see other files, so type errors (whose messages print
 * types, and whose types come from imports, here `any`) would differ between versions for reasons
 * that are not the merge's. Diagnostics are compared by code and the text they point at, never by
 * position: the merge moves code.
 */
import { ts } from 'ts-morph';
import { assert } from '../core/errors.js';
import { isSourcePath } from '../extract/segment.js';
import { parseVersion } from './syntax.js';
import type { Version } from './syntax.js';

/**
 * The diagnostic codes compared. Each is reported by the parser, the binder or the checker's
 * grammar and name-resolution passes from the file alone, so it reads the same with imports
 * unresolved and without the standard library:
 * - declarations: 2300 duplicate identifier, 2393 duplicate function implementation, 2451 cannot
 *   redeclare a block-scoped variable, 2323 cannot redeclare an exported variable, 2440 an import
 *   conflicts with a local declaration, 2528 several default exports, 2567 an enum merged with a
 *   non-enum, 2391 and 2389 an overload list cut from its implementation, 1117 one property twice
 *   in an object literal;
 * - heritage: 1172 `extends` twice, 1173 `extends` after `implements`, 1174 a class with two base
 *   classes, 1175 `implements` twice;
 * - names: 2304 and 2552 cannot find a name (with or without a suggestion: the suggestion depends
 *   on what else is in scope, so only the name is compared), 2580-2584, 2591-2593 the same for
 *   well-known globals (`require`, `describe`, `Promise`, `console`: without lib or types they never
 *   resolve, so they are in the inputs too), 2662 and 2663 a member used without `this.`, 18004 a
 *   shorthand property with no value in scope, 2448-2450 a block-scoped name used before its
 *   declaration;
 * - control flow: 1104, 1105, 1107, 1108, 1116 `break`, `continue` or `return` outside what they
 *   belong to, 1308 `await` outside an async function;
 * - calls of the file's own functions: 2554 and 2555 the wrong number of arguments (one side added a
 *   parameter, the other a call; calls of imported names are calls of `any` and never reported).
 *
 * Left out on purpose: 2307 (cannot find module: every import, with noResolve), type errors (2322,
 * 2339, 2345...: their messages print types that a merge legitimately changes, and names typed by
 * imports are `any` here), and global diagnostics (no lib: `Array` and friends are missing).
 */
export const guardedCodes: ReadonlySet<number> = new Set([
  2300, 2393, 2451, 2323, 2440, 2528, 2567, 2391, 2389, 1117, 1172, 1173, 1174, 1175, 2304, 2552, 2580, 2581, 2582, 2583, 2584, 2591, 2592, 2593, 2662, 2663, 18004, 2448, 2449,
  2450, 1104, 1105, 1107, 1108, 1116, 1308, 2554, 2555,
]);

/** Codes whose message carries counts rather than names: the message is part of the identity. */
const messageCodes: ReadonlySet<number> = new Set([2554, 2555]);

/** Codes that say a name does not resolve: where a rename may be carried (see carryRenames). */
export const unresolvedNameCodes: ReadonlySet<number> = new Set([2304, 2552, 18004]);

/** The longest span text kept in a finding's identity (a call's arguments can be long). */
const findingTextCharsMax = 200;

/** One diagnostic of one version: its identity (code and text) and where it is in that version. */
export interface Finding {
  readonly code: number;
  /** The text the diagnostic points at (a name, mostly), layout collapsed. */
  readonly name: string;
  /** What two versions compare: code, name, and for count-bearing codes the message. */
  readonly id: string;
  readonly start: number;
  readonly length: number;
}

/** True when `path` is checked by the safeguard: TypeScript and JavaScript, not JSON. */
export function isCheckedPath(path: string): boolean {
  return isSourcePath(path);
}

const compilerOptions: ts.CompilerOptions = {
  noResolve: true,
  noLib: true,
  types: [],
  allowJs: true,
  checkJs: true,
  noEmit: true,
  target: ts.ScriptTarget.Latest,
  module: ts.ModuleKind.ESNext,
  jsx: ts.JsxEmit.Preserve,
};

/**
 * The guarded diagnostics of one version, checked as a single-file program that reuses the tree
 * the merge already parsed (the binder fills in what the parser left out).
 */
export function findingsOf(version: Version): Finding[] {
  const sf = version.sf;
  const name = sf.fileName;
  const host: ts.CompilerHost = {
    getSourceFile: (file) => (file === name ? sf : undefined),
    getDefaultLibFileName: () => '/lib.d.ts',
    writeFile: () => undefined,
    getCurrentDirectory: () => '/',
    getCanonicalFileName: (file) => file,
    useCaseSensitiveFileNames: () => true,
    getNewLine: () => '\n',
    fileExists: (file) => file === name,
    readFile: () => undefined,
  };
  const program = ts.createProgram({ rootNames: [name], options: compilerOptions, host });
  const diagnostics = [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)];
  const findings: Finding[] = [];
  for (const d of diagnostics) {
    if (!guardedCodes.has(d.code) || d.file !== sf || d.start === undefined) continue;
    const length = d.length ?? 0;
    const text = version.text.slice(d.start, d.start + length).replace(/\s+/g, ' ').slice(0, findingTextCharsMax);
    const message = messageCodes.has(d.code) ? `|${ts.flattenDiagnosticMessageText(d.messageText, '\n')}` : '';
    findings.push({ code: d.code, name: text, id: `${d.code}|${text}${message}`, start: d.start, length });
  }
  return findings;
}

/**
 * The findings of the merged result that none of the inputs has. Inputs are checked lazily, ours
 * first: a result with no guarded diagnostic (the common case) costs one program, and most of a
 * result's diagnostics (unresolved globals) are found in ours already.
 */
export function newFindings(result: readonly Finding[], inputs: ReadonlyArray<() => readonly Finding[]>): Finding[] {
  let open = [...result];
  for (const input of inputs) {
    if (open.length === 0) break;
    const seen = new Set(input().map((f) => f.id));
    open = open.filter((f) => !seen.has(f.id));
  }
  assert(open.every((f) => guardedCodes.has(f.code)), 'newFindings: only guarded codes');
  return open;
}

/** A one-line account of findings, for a conflict's detail. */
export function describeFindings(findings: readonly Finding[]): string {
  const unique = [...new Set(findings.map((f) => `TS${f.code} '${f.name}'`))];
  return unique.slice(0, 5).join(', ') + (unique.length > 5 ? `, and ${unique.length - 5} more` : '');
}

/** The names a version declares (with their declarations) and every identifier it uses. */
interface Names {
  readonly declared: Map<string, ts.Node[]>;
  readonly used: Set<string>;
}

/** Declarations whose name is a binding of the scope they are in (members are not: `this.x`). */
function declaredName(node: ts.Node): ts.Identifier | null {
  if (
    ts.isFunctionDeclaration(node) ||
    ts.isClassDeclaration(node) ||
    ts.isVariableDeclaration(node) ||
    ts.isParameter(node) ||
    ts.isInterfaceDeclaration(node) ||
    ts.isTypeAliasDeclaration(node) ||
    ts.isEnumDeclaration(node) ||
    ts.isImportSpecifier(node) ||
    ts.isImportClause(node) ||
    ts.isNamespaceImport(node) ||
    ts.isBindingElement(node)
  ) {
    const name = node.name;
    return name !== undefined && ts.isIdentifier(name) ? name : null;
  }
  return null;
}

/** The deepest nesting walked when collecting names; deeper code is not looked into. */
const namesDepthMax = 500;

function namesOf(version: Version): Names {
  const declared = new Map<string, ts.Node[]>();
  const used = new Set<string>();
  const stack: Array<[ts.Node, number]> = [[version.sf, 0]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (ts.isIdentifier(node)) used.add(node.text);
    const name = declaredName(node);
    if (name !== null) declared.set(name.text, [...(declared.get(name.text) ?? []), node]);
    if (depth < namesDepthMax) ts.forEachChild(node, (child) => void stack.push([child, depth + 1]));
  }
  return { declared, used };
}

/** Words two texts share, as a share of both (Dice's coefficient over word multisets). */
function wordsAlike(a: string, b: string): number {
  const split = (text: string): string[] => text.match(/[\w$]+/g) ?? [];
  const [wa, wb] = [split(a), split(b)];
  if (wa.length + wb.length === 0) return 1;
  const counts = new Map<string, number>();
  for (const w of wa) counts.set(w, (counts.get(w) ?? 0) + 1);
  let shared = 0;
  for (const w of wb) {
    const n = counts.get(w) ?? 0;
    if (n === 0) continue;
    shared += 1;
    counts.set(w, n - 1);
  }
  return (2 * shared) / (wa.length + wb.length);
}

/** How alike a renamed declaration must stay (its new name read as the old one). */
const carrySimilarityMin = 0.8;

function replaceName(text: string, from: string, to: string): string {
  const escaped = from.replace(/[$]/g, '\\$');
  return text.replace(new RegExp(`(?<![\\w$])${escaped}(?![\\w$])`, 'g'), to);
}

/** The three inputs of a merge, parsed. */
export interface Inputs {
  readonly base: Version;
  readonly ours: Version;
  readonly theirs: Version;
}

/**
 * What `name` became on one side: the one name that side declares where base declared `name`, when
 * that side no longer uses `name` at all, base never used the new name, and the two declarations
 * are the same but for the name (80% of their words, the new name read as the old). Null otherwise.
 */
function renamedTo(name: string, base: Version, baseNames: Names, side: Version, sideNames: Names): string | null {
  const before = baseNames.declared.get(name);
  if (before === undefined || before.length !== 1 || sideNames.used.has(name)) return null;
  const old = before[0]!;
  const oldText = base.text.slice(old.getStart(base.sf), old.end);
  const alike: string[] = [];
  for (const [candidate, declarations] of sideNames.declared) {
    if (baseNames.used.has(candidate) || declarations.length !== 1) continue;
    const now = declarations[0]!;
    if (now.kind !== old.kind) continue;
    const nowText = replaceName(side.text.slice(now.getStart(side.sf), now.end), candidate, name);
    if (wordsAlike(oldText, nowText) >= carrySimilarityMin) alike.push(candidate);
  }
  return alike.length === 1 ? alike[0]! : null;
}

/**
 * Carry a rename into the other side's new code: where the merged text uses a name that does not
 * resolve, and exactly one side renamed that name's declaration (the other side did not declare
 * the new name too), the unresolved uses take the new name. Returns the repaired text, or null
 * when some unresolved name is not such a rename (removed, renamed on both sides, ambiguous).
 * The caller checks the repaired text again: a new name out of scope there still fails.
 */
export function carryRenames(result: Version, findings: readonly Finding[], inputs: Inputs): string | null {
  if (findings.length === 0 || findings.some((f) => !unresolvedNameCodes.has(f.code) || !/^[A-Za-z_$][\w$]*$/.test(f.name))) return null;
  const [baseNames, oursNames, theirsNames] = [namesOf(inputs.base), namesOf(inputs.ours), namesOf(inputs.theirs)];
  const targets = new Map<string, string>();
  for (const name of new Set(findings.map((f) => f.name))) {
    const viaOurs = renamedTo(name, inputs.base, baseNames, inputs.ours, oursNames);
    const viaTheirs = renamedTo(name, inputs.base, baseNames, inputs.theirs, theirsNames);
    if ((viaOurs === null) === (viaTheirs === null)) return null;
    const to = (viaOurs ?? viaTheirs)!;
    const otherNames = viaOurs !== null ? theirsNames : oursNames;
    if (otherNames.declared.has(to)) return null;
    targets.set(name, to);
  }
  let text = result.text;
  for (const f of [...findings].sort((a, b) => b.start - a.start)) {
    const to = targets.get(f.name);
    assert(to !== undefined, 'carryRenames: every finding has a target');
    assert(text.slice(f.start, f.start + f.length) === f.name, 'carryRenames: a finding points at its name');
    // `{ name }` with no `name` in scope becomes `{ name: newName }`: the property keeps its key.
    const replacement = f.code === 18004 ? `${f.name}: ${to}` : to;
    text = text.slice(0, f.start) + replacement + text.slice(f.start + f.length);
  }
  return text;
}

/**
 * The safeguard's question asked from outside a merge: the guarded diagnostics of `result` that
 * none of base, ours and theirs has. Null when the file is not judged (not TypeScript or
 * JavaScript, or some version does not parse). `acu replay-merges` asks it of every clean result.
 */
export function introducedFindings(path: string, texts: { base: string; ours: string; theirs: string; result: string }): Finding[] | null {
  if (!isCheckedPath(path)) return null;
  const versions = [texts.result, texts.ours, texts.theirs, texts.base].map((text) => parseVersion(path, text));
  if (versions.some((v) => v === null)) return null;
  const [result, ...inputs] = versions as Version[];
  return newFindings(findingsOf(result!), inputs.map((v) => () => findingsOf(v)));
}
