// The secret formats we detect beyond secretlint's preset (after gitleaks' rule list), and the literal triggers that gate them.

/** A documented token format. `group` is the capture holding the secret (0 = the whole match). */
export interface FormatRule {
  readonly kind: string;
  readonly re: RegExp;
  readonly group?: number;
}

const rule = (kind: string, source: string, flags = "", group = 0): FormatRule => ({ kind, re: new RegExp(source, `g${flags}${group ? "d" : ""}`), group });

// Boundaries written out: a token must not be the tail or head of a longer word.
const B = "(?<![A-Za-z0-9_-])";
const E = "(?![A-Za-z0-9_-])";

export const formatRules: readonly FormatRule[] = [
  rule("private-key", "-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----[\\s\\S]*?-----END[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----"),
  // A key pasted without its END line: the header and every base64 line after it.
  rule("private-key", "-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----(?:[\\s\\\\n]*(?:[A-Za-z0-9+/=]|\\\\n|[A-Za-z-]+: [^\\n]*)+)+"),
  rule("putty-private-key", "PuTTY-User-Key-File-\\d: [\\s\\S]*?Private-MAC: [0-9a-f]+"),
  rule("aws-access-key-id", `${B}(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}${E}`),
  rule("aws-secret-access-key", `aws.{0,20}?(?:secret|sk).{0,20}?['"\\s:=]+([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])`, "i", 1),
  rule("github-token", `${B}(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,255}${E}`),
  rule("github-token", `${B}github_pat_[A-Za-z0-9_]{50,255}${E}`),
  rule("gitlab-token", `${B}(?:glpat|gldt|glptt|glrt|glsoat|glcbt|glffct|glft|glimt|glagent|gloas|glwt)-[A-Za-z0-9_-]{20,}`),
  rule("gitlab-token", `${B}GR1348941[A-Za-z0-9_-]{20,}`),
  rule("slack-token", `${B}xox[abposer]-[A-Za-z0-9-]{10,}`),
  rule("slack-token", `${B}xapp-\\d-[A-Z0-9]+-\\d+-[A-Za-z0-9]+`),
  rule("slack-webhook", "https://hooks\\.slack\\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/_-]{16,}"),
  rule("discord-webhook", "https://(?:ptb\\.|canary\\.)?discord(?:app)?\\.com/api/webhooks/\\d+/[A-Za-z0-9_-]+"),
  rule("teams-webhook", "https://[A-Za-z0-9-]+\\.webhook\\.office\\.com/webhookb2/[^\\s\"'<>)]+"),
  rule("teams-webhook", "https://[A-Za-z0-9.-]+\\.logic\\.azure\\.com(?::\\d+)?/[^\\s\"'<>)]*?sig=[A-Za-z0-9%_-]+"),
  rule("stripe-key", `${B}(?:sk|rk)_(?:live|test|prod)_[A-Za-z0-9]{10,247}${E}`),
  rule("stripe-webhook-secret", `${B}whsec_[A-Za-z0-9+/=]{20,}`),
  rule("google-api-key", `${B}AIza[0-9A-Za-z_-]{35}${E}`),
  rule("google-oauth-secret", `${B}GOCSPX-[A-Za-z0-9_-]{28}${E}`),
  rule("jwt", `${B}eyJ[A-Za-z0-9_-]{8,}\\.eyJ[A-Za-z0-9_-]{8,}\\.[A-Za-z0-9_-]*`),
  // A password in a URL's user-info: scheme://user:PASSWORD@host (any scheme: databases, brokers, http).
  rule("connection-string-password", "(?<=[A-Za-z][A-Za-z0-9+.-]{1,20})://[^\\s:/@\"'<>]*:([^\\s@\"'<>/]+)@[A-Za-z0-9\\[]", "", 1),
  rule("azure-storage-key", "(?:AccountKey|SharedAccessKey)=([A-Za-z0-9+/]{40,}={0,2})", "i", 1),
  rule("azure-sas-signature", "[?&]sig=([A-Za-z0-9%+/]{30,}(?:%3D|=){0,2})", "", 1),
  rule("azure-ad-client-secret", `(?<=${B}[A-Za-z0-9_~.]{3}\\d)Q~[A-Za-z0-9_~.-]{31,34}${E}`),
  rule("npm-token", `${B}npm_[A-Za-z0-9]{36}${E}`),
  rule("pypi-token", `${B}pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}`),
  rule("twilio-api-key", `${B}SK[0-9a-fA-F]{32}${E}`),
  rule("sendgrid-api-key", `${B}SG\\.[A-Za-z0-9_-]{20,24}\\.[A-Za-z0-9_-]{39,50}${E}`),
  rule("anthropic-api-key", `${B}sk-ant-[A-Za-z0-9_-]{20,}`),
  rule("openai-api-key", `${B}sk-(?:proj|svcacct|admin|None)-[A-Za-z0-9_-]{20,}`),
  rule("openai-api-key", `${B}sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}${E}`),
  rule("openai-api-key", `${B}sk-[A-Za-z0-9]{32,}${E}`),
  rule("huggingface-token", `${B}(?:hf_|api_org_)[A-Za-z0-9]{30,}${E}`),
  rule("shopify-token", `${B}shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}${E}`),
  rule("databricks-token", `${B}dapi[a-f0-9]{32}(?:-\\d)?${E}`),
  rule("digitalocean-token", `${B}do[opr]_v1_[a-f0-9]{64}${E}`),
  rule("doppler-token", `${B}dp\\.(?:pt|st|sa|ct|scim|audit)\\.[A-Za-z0-9]{40,44}${E}`),
  rule("mailgun-key", `${B}key-[0-9a-f]{32}${E}`),
  // Matched from the suffix (fast to find); widening takes in the 32 hex characters before it.
  rule("mailchimp-key", `(?<=${B}[0-9a-f]{32})-us\\d{1,2}${E}`),
  rule("square-token", `${B}(?:sq0atp-[0-9A-Za-z_-]{22}|sq0csp-[0-9A-Za-z_-]{43}|EAAA[A-Za-z0-9_-]{60})${E}`),
  rule("atlassian-token", `${B}ATATT3[A-Za-z0-9_=-]{150,}`),
  rule("linear-api-key", `${B}lin_api_[A-Za-z0-9]{40}${E}`),
  rule("postman-api-key", `${B}PMAK-[a-f0-9]{24}-[a-f0-9]{34}${E}`),
  rule("grafana-token", `${B}(?:glc_[A-Za-z0-9+/]{32,}={0,2}|glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8})`),
  rule("vault-token", `${B}hv[sb]\\.[A-Za-z0-9_-]{24,}`),
  rule("terraform-token", `(?<=${B}[A-Za-z0-9]{14})\\.atlasv1\\.[A-Za-z0-9_=-]{60,70}${E}`),
  rule("pulumi-token", `${B}pul-[a-f0-9]{40}${E}`),
  rule("age-secret-key", "AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}"),
  rule("dynatrace-token", `${B}dt0c01\\.[A-Z0-9]{24}\\.[A-Z0-9]{64}${E}`),
  rule("alibaba-access-key", `${B}LTAI[A-Za-z0-9]{20}${E}`),
  rule("telegram-bot-token", `(?<=${B}\\d{8,10}):AA[0-9A-Za-z_-]{33}${E}`),
  rule("groq-api-key", `${B}gsk_[A-Za-z0-9]{52}${E}`),
  rule("replicate-token", `${B}r8_[A-Za-z0-9]{37}${E}`),
  rule("notion-token", `${B}(?:ntn_\\d{11}[A-Za-z0-9]{35}|secret_[A-Za-z0-9]{43})${E}`),
  rule("sentry-token", `${B}(?:sntrys_eyJ[A-Za-z0-9+/=_-]{60,}|sntryu_[a-f0-9]{64})`),
  rule("figma-token", `${B}figd_[A-Za-z0-9_-]{40,}`),
  rule("tailscale-key", `${B}tskey-[a-z]+-[A-Za-z0-9]{6,}-[A-Za-z0-9]{10,}`),
  rule("onepassword-token", `${B}ops_eyJ[A-Za-z0-9+/=_-]{40,}`),
  rule("docker-token", `${B}dckr_(?:pat|oat)_[A-Za-z0-9_-]{20,}`),
  rule("flyio-token", `${B}(?:fo1_[A-Za-z0-9_-]{43}|FlyV1 fm\\d_[A-Za-z0-9+/=,_-]{100,})`),
  rule("supabase-token", `${B}sbp_[a-f0-9]{40}${E}`),
  rule("planetscale-token", `${B}pscale_(?:tkn|oauth|pw)_[A-Za-z0-9=._-]{32,64}${E}`),
  rule("cloudflare-token", `${B}(?:v1\\.0-[a-f0-9]{24}-[a-f0-9]{146})`),
  rule("new-relic-key", `${B}NRAK-[A-Z0-9]{27}${E}`),
  rule("heroku-api-key", `${B}HRKU-[A-Za-z0-9_-]{60}${E}`),
  rule("bearer-token", `(?<![A-Za-z])Bearer\\s+([A-Za-z0-9._~+/-]{16,}=*)`, "", 1),
  rule("basic-auth-header", `Authorization["']?\\s*[:=]\\s*["']?Basic\\s+([A-Za-z0-9+/]{8,}={0,2})`, "i", 1),
];

/**
 * Keyword + value: `password = ...`, `"api_key": "..."`, `TOKEN=...`, `Authorization: token ...`.
 * Group 1 is the key; the value is in 2 (double-quoted), 3 (single-quoted) or 4 (bare).
 */
export const keywordRule =
  /(?<![A-Za-z0-9])([A-Za-z0-9_.-]*(?:pass(?:word|wd|phrase)?|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|auth[_-]?key|private[_-]?key|client[_-]?secret|credentials?|authorization|auth)[A-Za-z0-9_.-]*)["']?[ \t]*(?::=|=>|=|:)[ \t]*(?:(?:Bearer|Basic|token|Token)[ \t]+)?(?:"([^"\r\n]{1,512})"|'([^'\r\n]{1,512})'|([^\s"',;)}\]]{1,512}))/gi;

/**
 * Literals one of which every rule above needs near its match. Text without any of them skips
 * secretlint and the rule set: this is what keeps redaction near regex speed on ordinary code.
 * They are split into passes that each start with something V8 can scan for quickly (an upper-case
 * letter, or '_', '-', '.', ':' behind a lookbehind) rather than one slow alternation.
 */
export const triggerPasses: readonly RegExp[] = [
  /A(?:3T|KIA|SIA|BIA|CCA|Iza|TATT|ccountKey|GE-SECRET)|GR1348941|EAAA|PMAK|LTAI|SharedAccessKey|SK[0-9a-fA-F]{8}|FlyV1|Bearer|GOCSPX-|NRAK-|HRKU-|PuTTY-User/g,
  /(?<=gh[pousr]|github_pat|[sr]k|whsec|npm|hf|api_org|do[opr]|lin_api|gl[cs]a?|gsk|r8|ntn|secret|figd|ops|dckr|fo1|sbp|pscale)_/g,
  /(?<=gl[a-z]{2,6}|xapp|pypi|(?<![A-Za-z0-9])(?:sk|pul|key)|v1\.0)-|-----BEGIN|-us\d/g,
  /:(?:\/\/|AA)/g,
  /(?<=hooks|webhook|logic|SG|(?<![A-Za-z0-9])dp|hv[sb]|atlasv1|dt0c01)\./g,
  /xox|discord|eyJ|sig=|shp[acps]|dapi|sq0|sntry|tskey|Q~/g,
  // A secret-ish keyword followed by an assignment (`password =`, `"api_key":`, `Authorization:`), in any case.
  /(?:pass|pwd|secret|token|key|auth|credent|aws)[A-Za-z0-9_.-]{0,40}["']?[ \t]*(?::=|=>|=|:)/gi,
];

const confirms: ReadonlyMap<string, RegExp> = new Map([
  // A URL matters only with user-info (user:password@host).
  ["://", /:\/\/[^\s/?#@"'<>]{1,256}@/y],
  ["dapi", /dapi[a-f0-9]{32}/y],
]);

/** Whether the trigger hit at `index` can start a finding; cheap checks that keep ordinary code out of the windows. */
export function confirmTrigger(text: string, hit: string, index: number): boolean {
  const re = confirms.get(hit);
  if (!re) return true;
  re.lastIndex = index;
  return re.test(text);
}
