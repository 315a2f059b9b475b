/**
 * The atomic change unit (ACU) model. An ACU is the smallest change that means something to a
 * TypeScript programmer: one import, one function, one class header, one method... Files that are
 * not TypeScript or JavaScript, or do not parse, change as whole files (with line hunks for text).
 *
 * The format is defined in docs/acu-format.md; this module is its single source of truth in code.
 * Everything here is plain data: ACUs cross the network, are hashed and stored, so they hold only
 * strings, integers, booleans, arrays and null.
 */

/** Version of the ACU encoding. Bumped when a field's meaning changes. */
export const acuFormatVersion = 1;

/** The operations an ACU can carry. */
export type AcuOp = 'add' | 'modify' | 'remove' | 'move';

/** Declaration kinds that hold members (their ACUs may carry only a head and a tail: a "shell"). */
export type ContainerKind = 'class' | 'interface' | 'enum' | 'namespace';

/** Kinds of declaration-level ACUs. */
export type DeclKind =
  | ContainerKind
  | 'import'
  | 'export'
  | 'function'
  | 'type'
  | 'variable'
  | 'statement'
  | 'method'
  | 'property'
  | 'accessor'
  | 'constructor'
  | 'index-signature'
  | 'static-block'
  | 'member'
  | 'enum-member'
  | 'module';

/** Flags an ACU may carry. Sorted, unique. */
export type AcuFlag = 'format-only';

/**
 * A change to one declaration of a parsed source file.
 *
 * Text fields hold exact source text, leading trivia (comments, blank lines, indentation) included,
 * through the end of the declaration's last line. For a container (class, interface, enum,
 * namespace) that is modified or moved, `before`/`after` hold its head (up to and including the
 * line of the opening brace) and `beforeTail`/`afterTail` its tail (the closing brace's line);
 * members change through ACUs of their own. An added or removed container carries its whole text
 * and null tails. The module itself (symbol `''`, kind `module`) is a container whose head is the
 * file's detached header comment and whose tail is the trivia at the end of the file.
 */
export interface DeclAcu {
  readonly v: 1;
  readonly level: 'decl';
  /** Repository path of the file, `/`-separated, as git stores it. */
  readonly file: string;
  /** Symbol path inside the file: `class:Repo/method:open`. Grammar in docs/acu-format.md. */
  readonly symbol: string;
  readonly kind: DeclKind;
  readonly op: AcuOp;
  /** Text before the change; null for `add`. */
  readonly before: string | null;
  /** Text after the change; null for `remove`. */
  readonly after: string | null;
  /** Tail text before the change, for a container shell; else null. */
  readonly beforeTail: string | null;
  /** Tail text after the change, for a container shell; else null. */
  readonly afterTail: string | null;
  /**
   * For `add` and `move`: the symbol path of the preceding sibling in the file after the change,
   * or null when the declaration comes first in its container. Null for `modify` and `remove`.
   */
  readonly anchor: string | null;
  /** Names this declaration defines (sorted, unique). */
  readonly defines: readonly string[];
  /** Names this declaration uses that it does not define itself (sorted, unique). */
  readonly uses: readonly string[];
  readonly flags: readonly AcuFlag[];
}

/** What a whole-file ACU's content is. */
export type FileContentKind = 'text' | 'binary' | 'symlink' | 'gitlink';

/**
 * One run of changed lines: at line `beforeStart` (0-based, in the file before the change),
 * `beforeLines` are replaced by `afterLines`. Lines keep their terminators (`\n`, `\r\n`, or none at
 * the end of the file), so applying hunks is byte-exact.
 */
export interface Hunk {
  readonly beforeStart: number;
  readonly beforeLines: readonly string[];
  readonly afterLines: readonly string[];
}

/**
 * A change to a whole file: added, removed, renamed (`move`), modified as text hunks, replaced as
 * binary content, or changed in mode. `modify` and `move` may carry hunks; a `move` or a mode change
 * of a TypeScript file may be followed by declaration ACUs on the new path.
 */
export interface FileAcu {
  readonly v: 1;
  readonly level: 'file';
  /** The path after the change (the removed path for `remove`). */
  readonly file: string;
  /** For `move`: the path before the change; else null. */
  readonly fromFile: string | null;
  readonly op: AcuOp;
  readonly content: FileContentKind;
  /** Git file mode before (`100644`, `100755`, `120000`, `160000`); null for `add`. */
  readonly modeBefore: string | null;
  /** Git file mode after; null for `remove`. */
  readonly modeAfter: string | null;
  /** Git object id of the content before; null for `add`. */
  readonly beforeOid: string | null;
  /** Git object id of the content after; null for `remove`. */
  readonly afterOid: string | null;
  /**
   * The whole content after, for `add`, and for `modify`/`move` of binary, symlink and gitlink
   * content: UTF-8 text for text and symlinks, base64 for binary, empty for a gitlink (its content
   * is `afterOid`). Null when hunks carry the change or there is none.
   */
  readonly data: string | null;
  /** Line hunks for a text `modify`/`move`; null otherwise. */
  readonly hunks: readonly Hunk[] | null;
  /** Why the file changes as a whole rather than per declaration, when it is TypeScript. */
  readonly reason: FileLevelReason | null;
}

/** Why a TypeScript or JavaScript file was not split into declarations. */
export type FileLevelReason = 'added' | 'removed' | 'unparsed' | 'binary' | 'not-source';

/** An atomic change unit. */
export type Acu = DeclAcu | FileAcu;

/** An ACU together with its content id (SHA-256 of its canonical encoding, lowercase hex). */
export interface IdentifiedAcu {
  readonly id: string;
  readonly acu: Acu;
}

/** The ACUs of one commit, against its first parent (or the empty tree for a root commit). */
export interface CommitAcus {
  readonly commit: string;
  /** The parent extraction compares against: the first parent, or null for a root commit. */
  readonly parent: string | null;
  /** True for a commit with two or more parents: its ACUs are against the first parent only. */
  readonly merge: boolean;
  readonly acus: readonly IdentifiedAcu[];
}

/** The root container's symbol path. */
export const moduleSymbol = '';

/** Symbol path separator between nesting levels. */
export const symbolSeparator = '/';

/** `src/a.ts#class:Repo/method:open` — the full, human-readable address of a declaration. */
export function qualifiedSymbol(file: string, symbol: string): string {
  return symbol === moduleSymbol ? file : `${file}#${symbol}`;
}

/** The parent container's symbol path of `symbol` (`''` for a top-level declaration). */
export function parentSymbol(symbol: string): string {
  const cut = lastSeparator(symbol);
  return cut === -1 ? moduleSymbol : symbol.slice(0, cut);
}

/** The last segment of a symbol path: `method:open` for `class:Repo/method:open`. */
export function leafSegment(symbol: string): string {
  const cut = lastSeparator(symbol);
  return cut === -1 ? symbol : symbol.slice(cut + 1);
}

/**
 * Index of the last `/` that separates symbol segments. Segment names may contain `/` inside
 * quotes (`import:'./a/b'`), so quoted stretches are skipped.
 */
function lastSeparator(symbol: string): number {
  let last = -1;
  let quote: string | null = null;
  for (let i = 0; i < symbol.length; i += 1) {
    const ch = symbol[i];
    if (quote !== null) {
      if (ch === '\\') i += 1;
      else if (ch === quote) quote = null;
    } else if (ch === "'" || ch === '"' || ch === '`') {
      quote = ch;
    } else if (ch === symbolSeparator) {
      last = i;
    }
  }
  return last;
}

/** True for ACUs that carry a container's head and tail only. */
export function isShell(acu: DeclAcu): boolean {
  return acu.beforeTail !== null || acu.afterTail !== null;
}
