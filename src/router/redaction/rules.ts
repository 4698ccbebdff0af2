// The secret formats we detect beyond secretlint's preset (after gitleaks' rule list and vendors' documented formats), and the literal triggers that gate them.
import { plausibleSecretValue } from "./look-alikes.js";

/** A documented token format. `group` is the capture holding the secret (0 = the whole match). */
export interface FormatRule {
  readonly kind: string;
  readonly re: RegExp;
  readonly group?: number;
  /** A check the regex cannot express (what a base64 value decodes to, how random a bare value is). */
  readonly accept?: (value: string) => boolean;
  /** Its trigger is a keyword (`aws_secret… =`, `Authorization:`), so it runs over the keyword windows too, not only the format ones. */
  readonly keyworded?: boolean;
}

type RuleOptions = Pick<FormatRule, "accept" | "keyworded">;

const rule = (kind: string, source: string, flags = "", group = 0, options: RuleOptions = {}): FormatRule => ({
  kind,
  re: new RegExp(source, `g${flags}${group ? "d" : ""}`),
  group,
  ...options,
});

/** A PEM private key stored base64-encoded (kubeconfig `client-key-data`, `*_KEY_B64` variables); certificates decode to something else. */
const isEncodedPrivateKey = (value: string): boolean => /^-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY/.test(Buffer.from(value.slice(0, 80), "base64").toString("latin1"));
const plausiblePassword = (value: string): boolean => plausibleSecretValue("password", value, false);

// Boundaries written out: a token must not be the tail or head of a longer word.
const B = "(?<![A-Za-z0-9_-])";
const E = "(?![A-Za-z0-9_-])";

export const formatRules: readonly FormatRule[] = [
  rule("private-key", "-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----[\\s\\S]*?-----END[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----"),
  // A key pasted without its END line: the header and every base64 line after it.
  rule("private-key", "-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----(?:[\\s\\\\n]*(?:[A-Za-z0-9+/=]|\\\\n|[A-Za-z-]+: [^\\n]*)+)+"),
  rule("putty-private-key", "PuTTY-User-Key-File-\\d: [\\s\\S]*?Private-MAC: [0-9a-f]+"),
  rule("aws-access-key-id", `${B}(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}${E}`),
  rule("aws-secret-access-key", `aws.{0,20}?(?:secret|sk).{0,20}?['"\\s:=]+([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])`, "i", 1, { keyworded: true }),
  rule("github-token", `${B}(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,255}${E}`),
  rule("github-token", `${B}github_pat_[A-Za-z0-9_]{50,255}${E}`),
  rule("gitlab-token", `${B}(?:glpat|gldt|glptt|glrt|glsoat|glcbt|glffct|glft|glimt|glagent|gloas|glwt)-[A-Za-z0-9_-]{20,}(?:\\.[0-9a-z]{2}\\.[0-9a-z]{7,10})?`),
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
  rule("telegram-bot-token", `(?<=(?:${B}|/bot)\\d{8,10}):AA[0-9A-Za-z_-]{33}${E}`),
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
  // Vendors' documented formats added after a held-out check (prefix or fixed shape, each gated by a trigger below).
  rule("private-key", "LS0tLS1CRUdJTi[A-Za-z0-9+/]{20,}={0,2}", "", 0, { accept: isEncodedPrivateKey }),
  // Azure "identifiable" keys (DevOps PATs, Cognitive Services/OpenAI, …): 84 characters with a fixed signature at 52–57.
  rule("azure-key", `(?<=${B}[A-Za-z0-9]{52})JQQJ9[9DH][A-Za-z0-9]{26}${E}`),
  rule("google-oauth-token", `${B}(?:ya29\\.[A-Za-z0-9_-]{30,}|1//0[A-Za-z0-9_-]{40,})`),
  rule("google-chat-webhook", "https://chat\\.googleapis\\.com/v1/spaces/[A-Za-z0-9_-]+/messages\\?[^\\s\"'<>]+"),
  rule("firebase-server-key", `${B}AAAA[A-Za-z0-9_-]{7}:APA91b[A-Za-z0-9_-]{100,}`),
  rule("openai-api-key", `${B}sk-or-v1-[a-f0-9]{64}${E}`),
  rule("perplexity-api-key", `${B}pplx-[A-Za-z0-9]{40,}${E}`),
  rule("xai-api-key", `${B}xai-[A-Za-z0-9]{70,}${E}`),
  rule("langsmith-api-key", `${B}lsv2_(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10}${E}`),
  rule("pinecone-api-key", `${B}pcsk_[A-Za-z0-9]{4,8}_[A-Za-z0-9]{50,}${E}`),
  rule("tavily-api-key", `${B}tvly-(?:dev-|prod-)?[A-Za-z0-9]{32,}${E}`),
  rule("rubygems-api-key", `${B}rubygems_[a-f0-9]{48}${E}`),
  rule("nuget-api-key", `${B}oy2[a-z0-9]{43}${E}`),
  rule("bitbucket-app-password", `${B}ATBB[A-Za-z0-9_=.-]{28,}${E}`),
  rule("contentful-token", `${B}CFPAT-[A-Za-z0-9_-]{43}${E}`),
  rule("frameio-token", `${B}fio-u-[A-Za-z0-9_=-]{64}${E}`),
  rule("new-relic-key", `${B}(?:NRJS-[a-f0-9]{19}|NRI[IQ]-[A-Za-z0-9_-]{32})${E}`),
  rule("new-relic-key", `(?<=${B}[a-f0-9]{36})NRAL${E}`),
  rule("okta-token", "SSWS\\s+(00[A-Za-z0-9_-]{40})(?![A-Za-z0-9_-])", "", 1),
  rule("supabase-token", `${B}sb_secret_[A-Za-z0-9_-]{20,}`),
  // Sentry DSN: the key is the URL's user-info; the path ends in the numeric project id.
  rule("sentry-dsn", "://([a-f0-9]{32}(?::[a-f0-9]{32})?)@[A-Za-z0-9.-]+(?::\\d+)?/(?:[A-Za-z0-9._-]+/)*\\d+(?![A-Za-z0-9/._-])", "", 1),
  rule("grafana-token", `${B}eyJrIjoi[A-Za-z0-9+/]{40,}={0,2}`),
  rule("airtable-token", `${B}pat[A-Za-z0-9]{14}\\.[a-f0-9]{64}${E}`),
  rule("asana-token", `${B}[12]/\\d{10,20}(?:/\\d{10,20})?:[a-f0-9]{32}${E}`),
  rule("dropbox-token", `${B}sl\\.(?:u\\.)?[A-Za-z0-9_-]{130,}${E}`),
  rule("intercom-token", `${B}dG9rO[A-Za-z0-9+/]{40,}={0,2}`),
  rule("hubspot-token", `${B}pat-(?:na|eu|ap)\\d-[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}${E}`),
  rule("lob-api-key", `${B}(?:live|test)_[a-f0-9]{35}${E}`),
  rule("mapbox-secret-token", `${B}sk\\.eyJ[A-Za-z0-9_-]{20,}\\.[A-Za-z0-9_-]{20,}`),
  rule("braintree-token", `${B}access_token\\$(?:production|sandbox)\\$[a-z0-9]{16}\\$[a-f0-9]{32}${E}`),
  rule("plaid-token", `${B}access-(?:sandbox|development|production)-[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}${E}`),
  rule("discord-bot-token", `${B}[MNO][A-Za-z0-9_-]{23,25}\\.[A-Za-z0-9_-]{6}\\.[A-Za-z0-9_-]{27,38}${E}`),
  rule("aws-bedrock-api-key", `${B}ABSK[A-Za-z0-9+/]{100,}={0,2}`),
  rule("amazon-mws-token", `${B}amzn\\.mws\\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}${E}`),
  rule("azure-function-key", "azurewebsites\\.net/api/[^\\s?#\"']*\\?(?:[^\\s#\"']*&)?code=([A-Za-z0-9_%/+=-]{40,})", "", 1),
  rule("elevenlabs-api-key", `${B}sk_[a-f0-9]{48}${E}`),
  rule("netlify-token", `${B}nf[pco]_[A-Za-z0-9]{36,}${E}`),
  rule("render-api-key", `${B}rnd_[A-Za-z0-9]{28,}${E}`),
  rule("buildkite-token", `${B}bkua_[a-f0-9]{40}${E}`),
  rule("circleci-token", `${B}CCIPAT_[A-Za-z0-9]{22}_[a-f0-9]{40}${E}`),
  rule("jfrog-token", `${B}(?:AKCp[A-Za-z0-9]{69}|cmVmdGtuOjAxOj[A-Za-z0-9]{40,})${E}`),
  rule("sonarqube-token", `${B}sq[apu]_[a-f0-9]{40}${E}`),
  rule("twitter-bearer-token", `${B}A{22}[A-Za-z0-9%]{80,}`),
  rule("facebook-access-token", `${B}EAA[A-Za-z0-9]{90,}${E}`),
  rule("zapier-webhook", "https://hooks\\.zapier\\.com/hooks/catch/\\d+/[A-Za-z0-9]+/?"),
  rule("ifttt-webhook", "maker\\.ifttt\\.com/trigger/[^/\\s]+/(?:json/)?with/key/([A-Za-z0-9_-]{20,})", "", 1),
  rule("make-webhook", "https://hook\\.[a-z0-9]+\\.make\\.com/[a-z0-9]{32}"),
  rule("twitch-token", "oauth:([a-z0-9]{30})(?![A-Za-z0-9])", "", 1),
  // RPC URLs carry the project key in their path.
  rule("alchemy-api-key", "alchemy(?:api)?\\.(?:com|io)/v2/([A-Za-z0-9_-]{32})(?![A-Za-z0-9_-])", "", 1),
  rule("infura-api-key", "infura\\.io/(?:ws/)?v3/([a-f0-9]{32})(?![A-Za-z0-9_-])", "", 1),
  // Oracle's thin-driver URL puts the password after a slash: jdbc:oracle:thin:user/PASSWORD@host.
  rule("connection-string-password", "jdbc:oracle:[a-z]+:[^/\\s@:\"']+/([^@\\s\"']+)@", "", 1),
  // .netrc: `machine h login u password P` on one line, or `password P` on a line of its own.
  rule("netrc-password", "(?:^|[ \\t])(?:machine|default)[ \\t][^\\n]*?[ \\t]password[ \\t]+(\\S+)", "m", 1, { accept: plausiblePassword }),
  rule("netrc-password", "^[ \\t]*password[ \\t]+(\\S+)[ \\t]*$", "m", 1, { accept: plausiblePassword }),
  // Secrets passed as command-line flags: `--api-key V`, `--token=V`, `--auth V`.
  rule(
    "cli-flag-secret",
    "(?<![A-Za-z0-9-])--((?:[a-z0-9]+-)*(?:token|secret|password|passwd|api-?key|apikey|access-?key|auth-?key)|key|pass|auth|authkey)(?:=|[ \\t]+)([^\\s\"'`;|&<>]{8,512})",
    "",
    2,
    { accept: (value) => plausibleSecretValue("token", value, false) },
  ),
  // `sshpass -p PASSWORD`, and MySQL's `-pPASSWORD` (no space: with one, the client prompts).
  rule(
    "cli-flag-secret",
    "(?:sshpass[ \\t]+-p[ \\t]*|(?:mysql|mysqldump|mysqladmin|mariadb)\\b[^\\n|;&]*?[ \\t]-p)[\"']?([^\\s\"'`-][^\\s\"'`]*)",
    "",
    1,
    { accept: plausiblePassword },
  ),
  // curl/wget-style `-u user:password` and `--user user:password`.
  rule("cli-flag-secret", "(?<![A-Za-z0-9-])(?:-u|--user|--proxy-user)[ \\t=]+[\"']?[^\\s:\"'/]+:([^\\s\"'`@/][^\\s\"'`@]*)", "", 1, { accept: plausiblePassword }),
  rule("bearer-token", `(?<![A-Za-z])Bearer\\s+([A-Za-z0-9._~+/-]{16,}=*)`, "", 1),
  rule("basic-auth-header", `Authorization["']?\\s*[:=]\\s*["']?Basic\\s+([A-Za-z0-9+/]{8,}={0,2})`, "i", 1, { keyworded: true }),
];

/** Words that make a key name a secret's: `DB_PASSWORD`, `api_key`, `clientSecret`, `DD_APP_KEY`, `ASANA_PAT`. */
const secretKey = String.raw`[A-Za-z0-9_.-]*(?:pass(?:word|wd|phrase)?|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|auth[_-]?key|private[_-]?key|(?:app|application|admin|master|encryption|signing|licen[cs]e|hmac|ingest|subscription|client)[_-]?key|client[_-]?secret|credentials?|authorization|auth|mnemonic|seed[_-]?phrase|recovery[_-]?phrase|[_-]pat(?![a-z]))[A-Za-z0-9_.-]*`;
const quotedValue = String.raw`"(?<quoted>[^"\r\n]{1,4096})"|'(?<quoted>[^'\r\n]{1,4096})'`;

/**
 * Keyword + value, in the shapes config and code put them: groups `key`, and `quoted` or `bare` for the value,
 * which ends the match (a quoted one followed only by its closing quote).
 * Values run to 4 KiB: session tokens and encoded keys are long, and a cut value would leave its tail.
 */
export const keywordRules: readonly RegExp[] = [
  // `password = ...`, `"api_key": "..."`, `TOKEN=...`, `Authorization: token ...`, ODBC `PWD={...}`.
  new RegExp(
    String.raw`(?<![A-Za-z0-9])(?<key>${secretKey})["']?[ \t]*(?::=|=>|=|:)[ \t]*(?:(?:Bearer|Basic|token|Token|SSWS|ApiKey)[ \t]+(?:token=)?)?(?:${quotedValue}|\{(?<quoted>[^{}\s]{1,512})\}(?=[;\s]|$)|(?<bare>[^\s"',;)}\]]{1,4096}))`,
    "gi",
  ),
  // Two-argument calls: `define('DB_PASSWORD', '...')`, `headers.set("X-Api-Key", "...")`. A value with
  // brackets or backslashes is a pattern or code, not a secret (`rule("private-key", "-----BEGIN…[\s\S]…")`).
  new RegExp(String.raw`\([ \t]*["'](?<key>${secretKey})["'][ \t]*,[ \t]*(?:"(?<quoted>[^"\s()[\]{}\\]{1,4096})"|'(?<quoted>[^'\s()[\]{}\\]{1,4096})')(?=[ \t]*\))`, "gi"),
  // XML elements: `<password>...</password>`.
  new RegExp(String.raw`<(?<key>${secretKey})(?:[ \t][^>\n]*)?>(?<bare>[^<\s]{1,4096})(?=</)`, "gi"),
  // Name and value as attributes: .NET `<add key="ApiKey" value="..."/>`, `<param name="apiToken" value="..."/>`.
  new RegExp(String.raw`(?:name|key)=["'](?<key>${secretKey})["'][ \t]+value=(?:${quotedValue})`, "gi"),
  // Name/value lists on two lines (Kubernetes `env`, ECS task definitions): `- name: DB_PASSWORD` / `value: ...`.
  new RegExp(String.raw`name["']?[ \t]*[:=][ \t]*["']?(?<key>${secretKey})["']?,?[ \t]*\r?\n[ \t]*["']?value["']?[ \t]*[:=][ \t]*(?:${quotedValue}|(?<bare>[^\s"',}]{1,4096}))`, "gi"),
];

/**
 * Literals one of which every format rule above needs near its match. Text without any of them (or
 * a keyword trigger below) skips secretlint and the rule set: this is what keeps redaction near regex
 * speed on ordinary code. They are split into passes that each start with something V8 can scan for
 * quickly (an upper-case letter, or '_', '-', '.', ':' behind a lookbehind) rather than one slow
 * alternation. Format rules run only over the lines these find, which are few; keyword lines are many.
 */
export const formatTriggerPasses: readonly RegExp[] = [
  /A(?:3T|KIA|SIA|BIA|CCA|Iza|TATT|ccountKey|GE-SECRET|TBB|BSK|KCp|A{20})|GR1348941|EAA|CCIPAT_|PMAK|LTAI|LS0tLS1CRUdJTi|SharedAccessKey|SK[0-9a-fA-F]{8}|FlyV1|Bearer|GOCSPX-|NR(?:AK|JS|II|IQ)-|NRAL|HRKU-|PuTTY-User|JQQJ9|SSWS|CFPAT-|\$(?:production|sandbox)\$/g,
  /(?<=gh[pousr]|github_pat|[sr]k|whsec|npm|hf|api_org|do[opr]|lin_api|gl[cs]a?|gsk|r8|ntn|secret|figd|ops|dckr|fo1|sbp|pscale|lsv2|pcsk|rubygems|sb|bkua|sq[apu]|nf[pco]|rnd|(?<![A-Za-z0-9])(?:live|test))_|(?<=1\/)\/0|(?<=oy)2[a-z0-9]{43}/g,
  /(?<=gl[a-z]{2,6}|xapp|pypi|(?<![A-Za-z0-9])(?:sk|pul|key|pplx|xai|tvly|pat|fio)|access-(?:sandbox|development|production)|v1\.0)-|-----BEGIN|-us\d/g,
  // '://' (confirmed below), Telegram and FCM keys, Oracle JDBC URLs, Twitch `oauth:` and Asana `…/gid:` tokens.
  /:(?:\/\/|AA|APA91b|oracle:|(?<=(?:oauth|\d):)[a-z0-9]{30})/g,
  /(?<=hooks|webhook|logic|SG|(?<![A-Za-z0-9])(?:dp|sl|sk)|hv[sb]|atlasv1|dt0c01|ya29|amzn|zapier)\.|\.(?=[a-f0-9]{64})/g,
  /xox|discord|eyJ|sig=|shp[acps]|dapi|sq0|sntry|tskey|Q~|dG9rO|cmVmdGtu/g,
  // Command-line flags (`--api-key V`, `-u user:password`) and .netrc lines (`password V` after a space or at the start of a line).
  /-(?:-[a-z0-9-]{0,30}(?:token|secret|pass(?:word|wd)?|key|auth|user)[ \t=]|(?<![A-Za-z0-9-]-)(?:u[ \t]|p["']?[^\s"'-]))|(?<=^|[ \t])password[ \t]+(?=[^\s=:])/gm,
  // Discord bot tokens: the base64 of a numeric user id, a timestamp and an HMAC, dot-separated.
  /(?<![A-Za-z0-9_-])[MNO][A-Za-z0-9_-]{23,25}\.[A-Za-z0-9_-]{6}\./g,
];

/** A secret-ish keyword followed by an assignment (`password =`, `"api_key":`, `"KEY", "`, `<token>`, a `value:` line), in any case: the keyword rules' windows. */
export const keywordTriggerPasses: readonly RegExp[] = [
  /(?:pass|pwd|secret|token|key|auth|credent|aws|mnemonic|seed|phrase|_pat)[A-Za-z0-9_.-]{0,40}(?:["']?[ \t]*(?::=|=>|=|:)|["'][ \t]*,|>[^<\s]|["'][ \t]+value=|["']?,?[ \t]*\r?\n[ \t]*["']?value)/gi,
];

const confirms: ReadonlyMap<string, RegExp> = new Map([
  // A URL matters only with user-info (user:password@host) or on a host that puts keys in the path.
  ["://", /:\/\/(?:[^\s/?#@"'<>]{1,256}@|[A-Za-z0-9.-]{0,64}(?:alchemy(?:api)?\.(?:com|io)|infura\.io|chat\.googleapis\.com|azurewebsites\.net|maker\.ifttt\.com|[a-z0-9]+\.make\.com)\/)/y],
  ["dapi", /dapi[a-f0-9]{32}/y],
]);

/** Whether the trigger hit at `index` can start a finding; cheap checks that keep ordinary code out of the windows. */
export function confirmTrigger(text: string, hit: string, index: number): boolean {
  const re = confirms.get(hit);
  if (!re) return true;
  re.lastIndex = index;
  return re.test(text);
}
