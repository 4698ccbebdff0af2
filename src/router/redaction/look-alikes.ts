// Values that look like secrets but are not: placeholders, code, and hashes/ids that must pass through untouched.

/** Placeholders a format rule may still match (`ghp_xxxx…`, `sk_live_<KEY>`, `${TOKEN}`); those are left alone. */
const strictPlaceholder = /x{4,}|X{4,}|\*{3,}|\.{3}|<[^>]*>|\$\{[^}]*\}|\{\{[^}]*\}\}|\[REDACTED:/;

/** Words people use in examples instead of a value. */
const placeholderWord =
  /^(?:(?:your|my)[a-z_.-]*\d*|(?:change|replace)[_-]?me.*|example.*|.*placeholder.*|dummy.*|redacted|secret|password|passwd|pass|pwd|token|apikey|api[_-]?key|key|test|testing|todo|tbd|none|null|nil|undefined|true|false|empty|string|str|number|int|boolean|bool|any|required|optional|hidden|masked|foo|bar|baz|value|admin|root|user|guest|default|\*+|-+|_+|\.+|0+|x+|\?+)$/i;

/** `${VAR}`, `$VAR`, `%VAR%`, `{{ var }}`, `<VAR>`, `%s`, `$(cmd)`. */
const reference = /^(?:\$\{[^}]*\}|\$\(?[A-Za-z_][A-Za-z0-9_]*\)?|%[A-Za-z_][A-Za-z0-9_]*%|\{\{.*\}\}|<[^>]*>|%\(?[a-z_]*\)?[sd]|\[REDACTED:[^\]]*\])$/;

export function isStrictPlaceholder(value: string): boolean {
  return strictPlaceholder.test(value);
}

/** For keyword and connection-string values, where the format says little. */
export function isPlaceholderValue(value: string): boolean {
  const v = value.trim();
  return v.length === 0 || reference.test(v) || placeholderWord.test(v) || strictPlaceholder.test(v);
}

/**
 * A whole value that is a generic type or a markup tag: `List<String>`, `Promise<void>[]`,
 * `z.infer<typeof` (cut at a space), `Map<String,`, `<br/>`: the whole value, not a run inside it.
 */
const genericOrMarkup =
  /^(?:[A-Za-z_$][\w$.]*<(?:typeof|keyof|readonly|infer|string|number|boolean|any|unknown|void|[A-Z][a-z]+(?:[A-Z][a-z]+)*)(?:>+(?:\[\])*[;,)]?|[,|])?|<\/?[A-Za-z][\w-]*\s*\/?>)$/;

/** `getToken()`, `process.env.API_KEY`, `config.password`, `String`, `os.environ["X"]`: code, not a literal value. */
function looksLikeCode(value: string): boolean {
  if (/[()[\]{}]/.test(value) && !/^[A-Za-z0-9+/=_-]+$/.test(value)) return true;
  // Generics and markup; any other < or > is just a character, and passwords have those.
  if (genericOrMarkup.test(value)) return true;
  if (/^[A-Za-z_$][\w$]*(?:\??\.[A-Za-z_$][\w$]*)+$/.test(value)) return !/\d/.test(value) || /^(?:process|os|env|self|this|config|settings|args|opts|options|req|request|ctx|secrets|vars)\./.test(value);
  if (/^[A-Za-z_$][\w$]*$/.test(value) && !/\d/.test(value)) return entropy(value) < 3.2 || /^[a-z]+(?:[A-Z][a-z]+)+$/.test(value) || /^[A-Z_]+$/.test(value);
  return false;
}

/** Kubernetes-style references to a secret by name (`secretRef`, `secretKeyRef`); `client_secret_ref` is not one. */
const refKey = /[a-z]Ref$/;

/** Keys that contain a secret word but name something else (`max_tokens`, `author`, `token_type`). */
const notSecretKeyWords =
  /author(?!iz)|tokens\b|tokens?_?(?:type|count|limit|usage|url|uri|endpoint|file|path|name|id|ttl|expir|length|len)|tokeni[sz]|max_?tokens|input_?tokens|output_?tokens|(?:_|\b)(?:url|uri|file|path|name|id|length|count|type|policy|mode|format|prefix|enabled?|required|header|field|method|provider|algorithm|rotation|hint|label|env|var)$|(?:Url|Uri|File|Path|Name|Id|Length|Count|Type|Header|Field|Env)$/i;

function notSecretKey(key: string): boolean {
  return notSecretKeyWords.test(key) || refKey.test(key);
}

/**
 * `./keys/id_rsa`, `~/.ssh/deploy`, `/etc/app/tls.key`: where a secret is kept, not the secret. A
 * relative path needs a directory or an extension: `./k9Qw3Er7Ty1Ui` may well be a password.
 */
const filePath =
  /^(?:(?:~|\.{1,2})\/(?:[\w.-]+\/)+[\w.-]+|(?:~|\.{1,2})\/[\w-]*\.[A-Za-z0-9]{1,5}|\/?(?:[\w.-]+\/)+[\w.-]+\.(?:pem|key|crt|cer|der|p12|pfx|jks|json|ya?ml|txt|env|asc|gpg|pub))$/;

/** Shannon entropy in bits per character. */
function entropy(s: string): number {
  const freq = new Map<string, number>();
  for (const c of s) freq.set(c, (freq.get(c) ?? 0) + 1);
  let h = 0;
  for (const n of freq.values()) {
    const p = n / s.length;
    h -= p * Math.log2(p);
  }
  return h;
}

/** A keyword rule's value counts as a secret: long and random enough, not a placeholder, not code. */
export function plausibleSecretValue(key: string, value: string, quoted: boolean): boolean {
  if (notSecretKey(key)) return false;
  if (isPlaceholderValue(value)) return false;
  if (!quoted && looksLikeCode(value)) return false;
  if (/^(?:\d+|\d+\.\d+|true|false)$/i.test(value)) return false;
  if (filePath.test(value)) return false;
  // Passwords and recovery phrases may be short words or contain spaces; tokens may not.
  const isPassword = /pass|pwd|mnemonic|seed|recovery/i.test(key);
  if (value.length < (isPassword ? 6 : 8)) return false;
  if (quoted && /\s/.test(value) && !isPassword) return false;
  return entropy(value) >= (isPassword ? 2.2 : 3.0);
}

const base64Char = /[A-Za-z0-9+/=]/;

/**
 * A format match inside a long base64 run (an inline image, a lockfile integrity hash, a data URI)
 * is a coincidence, not a token: widening it would destroy the blob, so it is left alone.
 */
export function insideBlob(text: string, start: number, end: number): boolean {
  let s = start;
  let e = end;
  while (s > 0 && base64Char.test(text[s - 1]!)) s--;
  while (e < text.length && base64Char.test(text[e]!)) e++;
  const before = text.slice(Math.max(0, s - 16), s);
  if (/(?:base64,|sha(?:1|256|384|512)-)$/.test(before) || /^sha(?:1|256|384|512)-/.test(text.slice(s, e))) return true;
  return e - s >= 200 && e - s >= 3 * (end - start);
}
