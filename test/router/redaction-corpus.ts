// Test corpus for redaction: made-up secrets in documented formats (built at runtime so no token literal sits in the source) and look-alikes.

/** Deterministic pseudo-random characters, so the corpus is the same on every run. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const UPPER32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const HEX = "0123456789abcdef";
const B64 = `${ALNUM}+/`;
const URLSAFE = `${ALNUM}-_`;

export function randomChars(alphabet: string, n: number, seed: number): string {
  const r = rng(seed);
  let s = "";
  for (let i = 0; i < n; i++) s += alphabet[Math.floor(r() * alphabet.length)];
  return s;
}

/** A line of text containing a secret; `secret` is what must not survive (nor any 12-char piece of it). */
export interface SecretCase {
  readonly name: string;
  readonly text: string;
  readonly secret: string;
}

/**
 * Every 12-character piece of the secret still in the redacted text, none of which may survive.
 * A piece the surrounding text also has on its own (a shared `LS0tLS1CRUdJ` prefix, a key name) does not count.
 */
export function fragmentsLeft(c: Pick<SecretCase, "secret" | "text">, out: string): string[] {
  const around = c.text.split(c.secret).join("\n");
  const left: string[] = [];
  for (let i = 0; i + 12 <= c.secret.length; i++) {
    const piece = c.secret.slice(i, i + 12);
    if (out.includes(piece) && !around.includes(piece)) left.push(piece);
  }
  return left;
}

const c = (name: string, secret: string, wrap: (s: string) => string): SecretCase => ({ name, secret, text: wrap(secret) });
const r = randomChars;
// Prefixes split so a scanner reading this file sees no complete token.
const p = (...parts: string[]) => parts.join("");

const pemBody = Array.from({ length: 12 }, (_, i) => r(B64, 64, 100 + i)).join("\n");
const pem = (type: string) => `-----BEGIN ${type}-----\n${pemBody}\n${r(B64, 20, 99)}==\n-----END ${type}-----`;
const jwt = `${p("ey", "J")}${r(URLSAFE, 20, 1)}.${p("ey", "J")}${r(URLSAFE, 60, 2)}.${r(URLSAFE, 43, 3)}`;

export const secretCases: readonly SecretCase[] = [
  c("aws access key id", p("AK", "IA") + r(UPPER32, 16, 4), (s) => `aws_access_key_id = ${s}`),
  c("aws access key id inline", p("AS", "IA") + r(UPPER32, 16, 5), (s) => `The temporary key ${s} was issued today.`),
  c("aws secret access key", r(B64, 40, 6), (s) => `aws_secret_access_key = ${s}`),
  c("aws secret env", r(B64, 40, 7), (s) => `export AWS_SECRET_ACCESS_KEY="${s}"`),
  c("github classic pat", p("gh", "p_") + r(ALNUM, 36, 8), (s) => `git clone https://x-access-token:${s}@github.com/acme/app.git`),
  c("github oauth", p("gh", "o_") + r(ALNUM, 36, 9), (s) => `GITHUB_TOKEN=${s}`),
  c("github server token", p("gh", "s_") + r(ALNUM, 36, 10), (s) => `token: ${s}`),
  c("github user token", p("gh", "u_") + r(ALNUM, 36, 11), (s) => `{"token":"${s}"}`),
  c("github fine-grained", p("github", "_pat_") + r(ALNUM, 22, 12) + "_" + r(ALNUM, 59, 13), (s) => `use ${s} for the API`),
  c("gitlab pat", p("glp", "at-") + r(URLSAFE, 20, 14), (s) => `PRIVATE-TOKEN: ${s}`),
  c("slack bot token", p("xo", "xb-") + `${r("0123456789", 12, 15)}-${r("0123456789", 13, 16)}-${r(ALNUM, 24, 17)}`, (s) => `SLACK_BOT_TOKEN=${s}`),
  c("slack user token", p("xo", "xp-") + `${r("0123456789", 12, 18)}-${r("0123456789", 12, 19)}-${r("0123456789", 13, 20)}-${r(HEX, 32, 21)}`, (s) => `slack: ${s}`),
  c("slack webhook", p("https://hooks.", "slack.com/services/") + `T${r(UPPER32, 8, 22)}/B${r(UPPER32, 8, 23)}/${r(ALNUM, 24, 24)}`, (s) => `curl -X POST ${s} -d '{}'`),
  c("discord webhook", p("https://discord.com/api/", "webhooks/") + `${r("0123456789", 18, 25)}/${r(URLSAFE, 68, 26)}`, (s) => `webhook_url: "${s}"`),
  c("teams webhook", p("https://acme.webhook.", "office.com/webhookb2/") + `${r(HEX, 8, 27)}-1111-2222-3333-${r(HEX, 12, 28)}@${r(HEX, 8, 29)}/IncomingWebhook/${r(HEX, 32, 30)}/${r(HEX, 8, 31)}`, (s) => `notify ${s}`),
  c("stripe live key", p("sk", "_live_") + r(ALNUM, 24, 32), (s) => `Stripe.apiKey = "${s}";`),
  c("stripe restricted key", p("rk", "_live_") + r(ALNUM, 24, 33), (s) => `stripe ${s}`),
  c("google api key", p("AI", "za") + r(URLSAFE, 35, 34), (s) => `const key = "${s}";`),
  c("jwt", jwt, (s) => `curl -H "X-Session: ${s}" https://api.example.com`),
  c("postgres url password", `S3cure${r(ALNUM, 10, 35)}`, (s) => `DATABASE_URL=postgres://app:${s}@db.internal:5432/app`),
  c("mongodb+srv password", `Mng${r(ALNUM, 14, 36)}`, (s) => `mongodb+srv://admin:${s}@cluster0.ab1cd.mongodb.net/test?retryWrites=true`),
  c("redis url password", `Rd${r(ALNUM, 16, 37)}`, (s) => `REDIS_URL=redis://default:${s}@cache.internal:6379/0`),
  c("amqp url password", `Mq${r(ALNUM, 16, 38)}`, (s) => `broker = "amqp://svc:${s}@rabbit.internal:5672/vhost"`),
  c("https basic auth url", `Pw${r(ALNUM, 14, 39)}`, (s) => `pip install --index-url https://deploy:${s}@pypi.example.com/simple pkg`),
  c("npm token", p("np", "m_") + r(ALNUM, 36, 40), (s) => `//registry.npmjs.org/:_authToken=${s}`),
  c("pypi token", p("pypi-AgEIcHlwaS5", "vcmc") + r(URLSAFE, 70, 41), (s) => `password = ${s}`),
  c("azure storage key", r(B64, 86, 42) + "==", (s) => `DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=${s};EndpointSuffix=core.windows.net`),
  c("twilio api key", p("S", "K") + r(HEX, 32, 43), (s) => `TWILIO_API_KEY=${s}`),
  c("sendgrid key", p("S", "G.") + r(URLSAFE, 22, 44) + "." + r(URLSAFE, 43, 45), (s) => `sendgrid_api_key: ${s}`),
  c("openai project key", p("sk-", "proj-") + r(URLSAFE, 48, 46) + p("T3Blbk", "FJ") + r(URLSAFE, 48, 47), (s) => `OPENAI_API_KEY=${s}`),
  c("openai legacy key", p("sk", "-") + r(ALNUM, 20, 48) + p("T3Blbk", "FJ") + r(ALNUM, 20, 49), (s) => `openai.api_key = '${s}'`),
  c("anthropic key", p("sk-", "ant-api03-") + r(URLSAFE, 93, 50) + "AA", (s) => `x-api-key: ${s}`),
  c("huggingface token", p("h", "f_") + r(ALNUM, 34, 51), (s) => `HF_TOKEN=${s}`),
  c("private key rsa", pem("RSA PRIVATE KEY"), (s) => `key.pem:\n${s}\n`),
  c("private key ec", pem("EC PRIVATE KEY"), (s) => s),
  c("private key pkcs8", pem("PRIVATE KEY"), (s) => `const k = \`${s}\`;`),
  c("private key openssh", pem("OPENSSH PRIVATE KEY"), (s) => s),
  c("private key encrypted", pem("ENCRYPTED PRIVATE KEY"), (s) => s),
  c("private key dsa", pem("DSA PRIVATE KEY"), (s) => s),
  c("pgp private key", pem("PGP PRIVATE KEY BLOCK"), (s) => s),
  c("private key in json", pem("PRIVATE KEY").replace(/\n/g, "\\n"), (s) => `{"type":"service_account","private_key":"${s}\\n"}`),
  c("generic password", `Tr0ub4dor&3${r(ALNUM, 6, 52)}`, (s) => `password=${s}`),
  c("generic password yaml", `hX9${r(ALNUM, 13, 53)}`, (s) => `  db_password: "${s}"`),
  c("generic api key", r(HEX, 32, 54), (s) => `api_key: ${s}`),
  c("bearer header", r(URLSAFE, 40, 55), (s) => `Authorization: Bearer ${s}`),
  c("authorization token header", r(ALNUM, 40, 56), (s) => `-H 'Authorization: token ${s}'`),
  c("basic auth header", Buffer.from(`ci:${r(ALNUM, 20, 57)}`).toString("base64"), (s) => `Authorization: Basic ${s}`),
  c("client secret", r(URLSAFE, 34, 58), (s) => `client_secret = "${s}"`),
  c("databricks", p("da", "pi") + r(HEX, 32, 59), (s) => `DATABRICKS_TOKEN=${s}`),
  c("digitalocean", p("do", "p_v1_") + r(HEX, 64, 60), (s) => `doctl auth init -t ${s}`),
  c("shopify", p("shp", "at_") + r(HEX, 32, 61), (s) => `X-Shopify-Access-Token: ${s}`),
  c("vault token", p("hv", "s.") + r(URLSAFE, 90, 62), (s) => `VAULT_TOKEN=${s}`),
  c("grafana service account", p("gl", "sa_") + r(ALNUM, 32, 63) + "_" + r(HEX, 8, 64), (s) => `grafana ${s}`),
  c("linear", p("lin", "_api_") + r(ALNUM, 40, 65), (s) => `LINEAR_API_KEY=${s}`),
  c("postman", p("PM", "AK-") + r(HEX, 24, 66) + "-" + r(HEX, 34, 67), (s) => `postman ${s}`),
  c("age key", p("AGE-SECRET", "-KEY-1") + r("QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L", 58, 68), (s) => s),
  c("telegram bot", `${r("123456789", 10, 69)}:${p("A", "A")}${r(URLSAFE, 33, 70)}`, (s) => `bot = Bot("${s}")`),
  c("groq", p("gs", "k_") + r(ALNUM, 52, 71), (s) => `GROQ_API_KEY=${s}`),
  c("docker pat", p("dckr", "_pat_") + r(URLSAFE, 27, 72), (s) => `echo ${s} | docker login -u acme --password-stdin`),
  c("mailgun", p("ke", "y-") + r(HEX, 32, 73), (s) => `mailgun ${s}`),
  c("azure ad client secret", `${r(ALNUM, 3, 74)}8${p("Q", "~")}${r(ALNUM, 34, 75)}`, (s) => `AZURE_CLIENT_SECRET=${s}`),
  c("stripe webhook secret", p("wh", "sec_") + r(ALNUM, 32, 76), (s) => `endpointSecret := "${s}"`),
  c("dotnet connection string", `Pa55${r(ALNUM, 12, 77)}`, (s) => `Server=db;Database=app;User Id=sa;Password=${s};`),
  c("token in query string", r(ALNUM, 32, 78), (s) => `GET https://api.example.com/v1/items?access_token=${s}&page=2`),
];

/** Texts that must come out byte-identical. */
export const lookAlikes: readonly string[] = [
  `commit ${r(HEX, 40, 200)}\nMerge: ${r(HEX, 7, 201)} ${r(HEX, 7, 202)}`,
  `git checkout ${r(HEX, 40, 203)}`,
  `"sha": "${r(HEX, 40, 204)}", "tree": {"sha": "${r(HEX, 40, 205)}"}`,
  `request id 123e4567-e89b-12d3-a456-426614174000 failed`,
  `"id": "${r(HEX, 8, 206)}-${r(HEX, 4, 207)}-4${r(HEX, 3, 208)}-a${r(HEX, 3, 209)}-${r(HEX, 12, 210)}"`,
  `"integrity": "sha512-${r(B64, 86, 211)}=="`,
  `"integrity": "sha1-${r(B64, 27, 212)}="`,
  `resolved "https://registry.yarnpkg.com/left-pad/-/left-pad-1.3.0.tgz#${r(HEX, 40, 213)}"`,
  `<img src="data:image/png;base64,iVBORw0KGgo${r(B64, 600, 214)}AIza${r(B64, 300, 215)}==">`,
  `const logo = "iVBORw0KGgo${r(B64, 400, 216)}AKIA${r(UPPER32, 16, 217)}${r(B64, 400, 218)}";`,
  `api_key: <YOUR_API_KEY>`,
  `token: \${GITHUB_TOKEN}`,
  `password: changeme`,
  `  password: List<String>;\n  secretKey: Promise<void>;\n  tokenHandler: Map<String,`,
  `private accessToken: Array<Uint8Array>[];`,
  `AWS_SECRET_ACCESS_KEY=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx`,
  `export OPENAI_API_KEY=$OPENAI_API_KEY`,
  `GITHUB_TOKEN=${p("gh", "p_")}xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx`,
  `password: "{{ vault_db_password }}"`,
  `const token = await getToken(scope);`,
  `password: z.string().min(12),`,
  `if (token.type === "identifier") return parseIdentifier(token);`,
  `max_tokens: 4096, "input_tokens": 1234`,
  `DATABASE_URL=postgres://user:password@localhost:5432/dev`,
  `author: Jane Doe <jane.doe@example.com>`,
  `git@github.com:acme/app.git`,
  `import { S3Client } from "@aws-sdk/client-s3";`,
  `sha256:${r(HEX, 64, 219)}`,
  `Checksum: ${r(HEX, 64, 220)}  app.tar.gz`,
  `docker pull ghcr.io/acme/app@sha256:${r(HEX, 64, 221)}`,
  `See https://example.com/docs/keys#rotation for key rotation.`,
  `secretName: app-credentials`,
  `"tokenType": "Bearer", "expiresIn": 3600`,
  `Authorization: Bearer <token>`,
  `Authorization: Bearer $TOKEN`,
  `const keyId = process.env.KMS_KEY_ID;`,
  `-----BEGIN CERTIFICATE-----\n${Array.from({ length: 6 }, (_, i) => r(B64, 64, 230 + i)).join("\n")}\n-----END CERTIFICATE-----`,
  `ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC${r(B64, 300, 240)} deploy@ci`,
  `password = os.environ["DB_PASSWORD"]`,
  `passwd: "\${DB_PASSWORD}"`,
  `curl -H "Authorization: Bearer \${API_TOKEN}" https://api.example.com`,
];

/** Plain text and code with no secrets, for speed and false-positive checks. */
export function mixedFiller(bytes: number, seed = 1): string {
  const chunks = [
    "The orchestrator takes a change through planner, builder and verifier; deterministic gates decide pass or fail.\n",
    "export function tokenize(input: string): Token[] {\n  const tokens: Token[] = [];\n  for (const ch of input) tokens.push(classify(ch));\n  return tokens;\n}\n",
    "const key = `${owner}/${repo}`;\nif (cache.has(key)) return cache.get(key);\n",
    "import { readFileSync } from \"node:fs\";\nimport path from \"node:path\";\n",
    "SELECT id, name, created_at FROM runs WHERE status = 'parked' ORDER BY created_at LIMIT 100;\n",
    "- name: Install\n  run: npm ci --no-audit\n- name: Test\n  run: npm test -- --reporter=dot\n",
    "See https://docs.example.com/guide/getting-started for details on setup and configuration.\n",
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore.\n",
    "  passwordHash = await argon2.hash(input.password);\n",
    `  "version": "1.2.3",\n  "resolved": "https://registry.npmjs.org/x/-/x-1.2.3.tgz",\n`,
  ];
  const rand = rng(seed);
  let out = "";
  while (out.length < bytes) out += chunks[Math.floor(rand() * chunks.length)];
  return out.slice(0, bytes);
}
