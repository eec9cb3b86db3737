// The built-in rule set, in the same TOML schema users write (see rules.h). Each rule names a
// credential format its provider documents; keywords are substrings every match contains, so the
// exact regex only runs near them.
#include "scan/rules.h"

namespace keyhold::scan {

std::string_view BuiltinRulesToml() {
  return R"toml(
# --- cloud ---------------------------------------------------------------------------------
[[rules]]
id = "aws-access-key-id"
description = "AWS access key ID"
regex = '''\b((?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})\b'''
keywords = ["akia", "asia", "abia", "acca"]
[[rules.allowlists]]
regexes = ['''EXAMPLE$''']

[[rules]]
id = "aws-secret-access-key"
description = "AWS secret access key"
regex = '''(?i)aws.{0,20}?(?:secret|private).{0,20}?["']?\s{0,3}(?::|=>|=)\s{0,3}["']?([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)'''
secretGroup = 1
entropy = 3.5
keywords = ["aws"]
[[rules.allowlists]]
stopwords = ["example"]

[[rules]]
id = "gcp-api-key"
description = "Google Cloud API key"
regex = '''\b(AIza[0-9A-Za-z_-]{35})(?:[^0-9A-Za-z_-]|$)'''
keywords = ["aiza"]

[[rules]]
id = "azure-storage-account-key"
description = "Azure storage account key in a connection string"
regex = '''(?i)AccountKey=([A-Za-z0-9+/]{86}==)'''
keywords = ["accountkey="]

[[rules]]
id = "digitalocean-token"
description = "DigitalOcean access token"
regex = '''\b(do[opr]_v1_[a-f0-9]{64})\b'''
keywords = ["dop_v1_", "doo_v1_", "dor_v1_"]

# --- code hosting and package registries ------------------------------------------------------
[[rules]]
id = "github-token"
description = "GitHub token (personal, OAuth, app or refresh)"
regex = '''\b((?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36})\b'''
keywords = ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"]

[[rules]]
id = "github-fine-grained-token"
description = "GitHub fine-grained personal access token"
regex = '''\b(github_pat_[A-Za-z0-9_]{82})\b'''
keywords = ["github_pat_"]

[[rules]]
id = "gitlab-token"
description = "GitLab personal, project or deploy token"
regex = '''\b(gl(?:pat|dt|ptt|rt)-[A-Za-z0-9_-]{20})(?:[^A-Za-z0-9_-]|$)'''
keywords = ["glpat-", "gldt-", "glptt-", "glrt-"]

[[rules]]
id = "npm-token"
description = "npm access token"
regex = '''\b(npm_[A-Za-z0-9]{36})\b'''
keywords = ["npm_"]

[[rules]]
id = "pypi-token"
description = "PyPI upload token"
regex = '''\b(pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,})'''
keywords = ["pypi-ageichlwas5vcmc"]

# --- payments and commerce ---------------------------------------------------------------------
[[rules]]
id = "stripe-key"
description = "Stripe secret or restricted key"
regex = '''\b((?:sk|rk)_(?:live|test)_[A-Za-z0-9]{24,99})\b'''
keywords = ["sk_live_", "sk_test_", "rk_live_", "rk_test_"]

[[rules]]
id = "square-token"
description = "Square access token"
regex = '''\b(sq0(?:atp|csp)-[0-9A-Za-z_-]{22,43})(?:[^0-9A-Za-z_-]|$)'''
keywords = ["sq0atp-", "sq0csp-"]

[[rules]]
id = "braintree-token"
description = "Braintree (PayPal) production access token"
regex = '''(access_token\$production\$[0-9a-z]{16}\$[0-9a-f]{32})'''
keywords = ["access_token$production$"]

[[rules]]
id = "shopify-token"
description = "Shopify access token or shared secret"
regex = '''\b(shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32})\b'''
keywords = ["shpat_", "shpca_", "shppa_", "shpss_"]

# --- chat -----------------------------------------------------------------------------------
[[rules]]
id = "slack-token"
description = "Slack token"
regex = '''\b(xox[abposr]-(?:\d+-)+[0-9A-Za-z]{16,64})\b'''
keywords = ["xoxa-", "xoxb-", "xoxp-", "xoxo-", "xoxs-", "xoxr-"]

[[rules]]
id = "slack-webhook"
description = "Slack incoming webhook URL"
regex = '''(https://hooks\.slack\.com/(?:services|workflows)/[A-Za-z0-9+/]{43,56})'''
keywords = ["hooks.slack.com"]

[[rules]]
id = "discord-webhook"
description = "Discord webhook URL"
regex = '''(https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/[0-9]{17,20}/[A-Za-z0-9_-]{60,68})'''
keywords = ["/api/webhooks/"]

[[rules]]
id = "telegram-bot-token"
description = "Telegram bot token"
regex = '''\b([0-9]{8,10}:AA[0-9A-Za-z_-]{33})(?:[^0-9A-Za-z_-]|$)'''
keywords = [":aa"]

# --- mail and messaging -----------------------------------------------------------------------
[[rules]]
id = "sendgrid-api-key"
description = "SendGrid API key"
regex = '''\b(SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43})(?:[^A-Za-z0-9_-]|$)'''
keywords = ["sg."]

[[rules]]
id = "mailgun-api-key"
description = "Mailgun API key"
regex = '''\b(key-[0-9a-f]{32})\b'''
keywords = ["key-"]

[[rules]]
id = "mailchimp-api-key"
description = "Mailchimp API key"
regex = '''\b([0-9a-f]{32}-us[0-9]{1,2})\b'''
keywords = ["-us"]

[[rules]]
id = "twilio-api-key"
description = "Twilio API key SID"
regex = '''\b(SK[0-9a-f]{32})\b'''

[[rules]]
id = "postmark-server-token"
description = "Postmark server token"
regex = '''(?i)postmark.{0,30}?(?:token|key).{0,10}?["']?\s{0,3}(?::|=>|=)\s{0,3}["']?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})'''
secretGroup = 1
keywords = ["postmark"]

# --- LLM APIs ---------------------------------------------------------------------------------
[[rules]]
id = "openai-api-key"
description = "OpenAI API key"
regex = '''\b(sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,74}T3BlbkFJ[A-Za-z0-9_-]{20,74})(?:[^A-Za-z0-9_-]|$)'''
keywords = ["t3blbkfj"]

[[rules]]
id = "anthropic-api-key"
description = "Anthropic API key"
regex = '''\b(sk-ant-(?:api03|admin01)-[A-Za-z0-9_-]{93}AA)(?:[^A-Za-z0-9_-]|$)'''
keywords = ["sk-ant-"]

[[rules]]
id = "huggingface-token"
description = "Hugging Face access token"
regex = '''\b(hf_[A-Za-z]{34})\b'''
keywords = ["hf_"]

[[rules]]
id = "groq-api-key"
description = "Groq API key"
regex = '''\b(gsk_[A-Za-z0-9]{52})\b'''
keywords = ["gsk_"]

# --- keys, connection strings and generic secrets ---------------------------------------------
[[rules]]
id = "private-key"
description = "Private key (PEM)"
regex = '''(-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----[\s\S]{64,}?-----END[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----)'''
keywords = ["private key"]

[[rules]]
id = "connection-string-password"
description = "URL or connection string with a password"
regex = '''(?i)\b(?:postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?|rediss?|amqps?|mssql|sqlserver|jdbc:[a-z]+|ftps?|sftp|smtps?|imaps?|ldaps?|https?)://[^\s:@/'"`]{1,100}:([^\s:@/'"`]{3,200})@[^\s'"`<>]+'''
secretGroup = 1
keywords = ["://"]
[[rules.allowlists]]
regexes = ['''(?i)^(?:password|passwd|pass|pwd|secret|changeme|example|x{3,}|\*+|<[^>]*>|\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|%[A-Za-z_]+%|\{\{.*\}\}|%s)$''']

[[rules]]
id = "generic-secret"
description = "High-entropy value assigned to a secret-looking name"
regex = '''(?i)(?:^|[^a-z0-9])[a-z0-9_.-]{0,30}(?:secret|passw(?:or)?d|passwd|pwd|token|api[_.-]?key|apikey|access[_.-]?key|auth[_.-]?key|private[_.-]?key|client[_.-]?secret|credentials?)[a-z0-9_.-]{0,20}["']?\s{0,5}(?::=|=>|=|:)\s{0,5}["'`]?([a-z0-9+/=_.~!@#$%^&*-]{10,200})["'`]?'''
secretGroup = 1
entropy = 3.5
keywords = ["secret", "passw", "pwd", "token", "credential", "apikey", "api_key", "api-key",
            "api.key", "accesskey", "access_key", "access-key", "access.key", "authkey", "auth_key",
            "auth-key", "auth.key", "privatekey", "private_key", "private-key", "private.key"]
[[rules.allowlists]]
description = "placeholders, identifiers, UUIDs, environment lookups"
stopwords = ["example", "placeholder", "changeme", "change_me", "dummy", "sample", "xxxxxx", "your_", "your-", "redacted", "notasecret", "lorem", "fake"]
regexes = [
  '''^[A-Za-z_][A-Za-z_.-]*$''',
  '''(?i)^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$''',
  '''^\$''',
  '''(?i)^(?:process\.env|os\.environ|os\.getenv|env\.|config\.|settings\.|self\.|this\.)''',
]
[[rules.allowlists]]
description = "digests of secrets are not secrets: password_hash, token_sha256, ..."
regexTarget = "match"
regexes = ['''(?i)(?:hash|digest|checksum|sha1|sha224|sha256|sha384|sha512|md5|fingerprint)[a-z0-9_.-]*["']?\s{0,5}(?::=|=>|=|:)''']

# --- files that are secrets wherever they appear ----------------------------------------------
[allowlist]
description = "files that hold no secrets of their own: images, fonts, archives, lock files"
paths = [
  '''(?i)\.(?:png|jpe?g|gif|bmp|ico|tiff?|webp|svg|woff2?|ttf|otf|eot|pdf|zip|gz|tgz|bz2|xz|jar|war|class|so|dylib|dll|exe)$''',
  '''(?:^|/)(?:package-lock\.json|npm-shrinkwrap\.json|yarn\.lock|pnpm-lock\.yaml|go\.sum|Cargo\.lock|poetry\.lock|composer\.lock|Gemfile\.lock)$''',
]
)toml";
}

}  // namespace keyhold::scan
