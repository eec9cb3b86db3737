// The built-in rules, in the same TOML schema users write (see rules.h). Each rule names a
// credential format and, in its description, the provider's documented shape it follows.
// Keywords are substrings every match contains, so the exact regex only runs near them; rules
// whose format has a checksum or an encoded structure verify it (`validate`). Every rule has a
// case in builtin_rules_test.cc: a value it must find and a near miss it must not.
//
// This file is long because it is data: one table, grouped by kind of provider.
#include <initializer_list>
#include <string>
#include <string_view>

#include "scan/rules.h"

namespace keyhold::scan {

namespace {

// In parts: one string literal this long is more than compilers must accept (C++ requires 65,536
// characters). Each part ends with a newline, so they join into the one TOML document.
constexpr std::string_view kPart0 = R"toml(

# --- cloud ---------------------------------------------------------------------------------------
[[rules]]
id = "aws-access-key-id"
description = "AWS access key ID: AKIA (long-term), ASIA (STS), ABIA, ACCA or A3T. prefix and 16 base32 characters, per AWS IAM's documented identifier prefixes"
regex = '''\b((?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z2-7]{16})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["akia", "asia", "abia", "acca", "a3t"]
revoke = "https://console.aws.amazon.com/iam/home#/security_credentials"
[[rules.allowlists]]
description = "AWS's documented example key IDs end in EXAMPLE"
regexes = ['''EXAMPLE$''']

[[rules]]
id = "aws-secret-access-key"
description = "AWS secret access key: 40 base64 characters assigned to an AWS secret name, per AWS IAM's access key documentation"
regex = '''(?i:aws[\w.-]{0,20}?(?:secret|private))[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)'''
secretGroup = 1
entropy = 3.5
keywords = ["aws"]
revoke = "https://console.aws.amazon.com/iam/home#/security_credentials"
[[rules.allowlists]]
stopwords = ["example"]

[[rules]]
id = "aws-session-token"
description = "AWS STS session token: base64 of the signed session blob, beginning IQoJb3JpZ2lu or FwoGZXIvYXdz, per the tokens STS returns"
regex = '''\b((?:IQoJb3JpZ2lu|FwoGZXIvYXdz)[A-Za-z0-9/+=]{200,})(?:[^A-Za-z0-9/+=]|$)'''
entropy = 3.0
keywords = ["iqojb3jpz2lu", "fwogzxivyxdz"]

[[rules]]
id = "aws-mws-key"
description = "Amazon Marketplace Web Service auth token: amzn.mws. and a UUID, per Amazon MWS developer documentation"
regex = '''\b(amzn\.mws\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["amzn.mws."]

[[rules]]
id = "aws-bedrock-api-key"
description = "Amazon Bedrock long-term API key: ABSK and base64 of the key, per Amazon Bedrock's API key documentation"
regex = '''\b(ABSK[A-Za-z0-9+/]{100,200}={0,2})(?:[^A-Za-z0-9/+=]|$)'''
entropy = 3.0
keywords = ["absk"]

[[rules]]
id = "gcp-api-key"
description = "Google Cloud / Firebase API key: AIza and 35 base64url characters, per Google Cloud's API key documentation"
regex = '''\b(AIza[0-9A-Za-z_-]{35})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["aiza"]
revoke = "https://console.cloud.google.com/apis/credentials"

[[rules]]
id = "gcp-service-account-key"
description = "Google Cloud service account key file: the private_key_id of a JSON key (40 hex), per Google Cloud IAM's key file format"
regex = '''"private_key_id"\s{0,3}:\s{0,3}"([0-9a-f]{40})"'''
secretGroup = 1
entropy = 3.0
keywords = ["private_key_id"]
revoke = "https://console.cloud.google.com/iam-admin/serviceaccounts"

[[rules]]
id = "gcp-oauth-client-secret"
description = "Google OAuth client secret: GOCSPX- and 28 base64url characters, per Google Identity's client secret format"
regex = '''\b(GOCSPX-[A-Za-z0-9_-]{28})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["gocspx-"]
revoke = "https://console.cloud.google.com/apis/credentials"

[[rules]]
id = "gcp-oauth-access-token"
description = "Google OAuth 2.0 access token: ya29. and base64url characters, per Google Identity's token documentation"
regex = '''\b(ya29\.[0-9A-Za-z_-]{60,})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["ya29."]

[[rules]]
id = "azure-storage-account-key"
description = "Azure storage (and Cosmos DB) account key in a connection string: AccountKey= and 86 base64 characters and ==, per Azure Storage's connection string format"
regex = '''(?i:AccountKey)=([A-Za-z0-9+/]{86}==)'''
secretGroup = 1
entropy = 3.5
keywords = ["accountkey="]

[[rules]]
id = "azure-sas-token"
description = "Azure shared access signature: a URL query with sv= (service version) and sig= (base64 HMAC, percent-encoded), per Azure Storage's SAS documentation"
regex = '''\bsv=\d{4}-\d{2}-\d{2}&[^\s'\"<>]{0,300}?\bsig=([A-Za-z0-9%+/]{43,64}(?:%3D|=){0,2})'''
secretGroup = 1
entropy = 3.0
keywords = ["sig="]

[[rules]]
id = "azure-ad-client-secret"
description = "Microsoft Entra ID (Azure AD) application client secret: 3 characters, a digit, Q~ and 31-34 more, per Microsoft identity platform's secret format"
regex = '''(?m)(?:^|[^a-zA-Z0-9_~.-])([a-zA-Z0-9_~.]{3}\dQ~[a-zA-Z0-9_~.-]{31,34})(?:[^a-zA-Z0-9_~.-]|$)'''
entropy = 3.0
keywords = ["q~"]
revoke = "https://portal.azure.com/#view/Microsoft_AAD_RegisteredApps/ApplicationsListBlade"

[[rules]]
id = "azure-service-bus-key"
description = "Azure Service Bus / Event Hubs / IoT Hub shared access key: SharedAccessKey= and 43 base64 characters and =, per Azure's connection string format"
regex = '''(?i:SharedAccessKey)=([A-Za-z0-9+/]{43}=)'''
secretGroup = 1
entropy = 3.5
keywords = ["sharedaccesskey="]

[[rules]]
id = "azure-app-configuration-secret"
description = "Azure App Configuration connection string secret: Secret= and 43 base64 characters and = after an azconfig.io endpoint, per Azure App Configuration's access keys"
regex = '''azconfig\.io;Id=[^;\s]{1,64};Secret=([A-Za-z0-9+/]{43}=)'''
secretGroup = 1
entropy = 3.5
keywords = ["azconfig.io"]

[[rules]]
id = "azure-devops-pat"
description = "Azure DevOps personal access token (2024 format): 84 characters with the AZDO signature at offset 76, per Azure DevOps' PAT documentation"
regex = '''\b([A-Za-z0-9]{76}AZDO[A-Za-z0-9]{4})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["azdo"]
revoke = "https://learn.microsoft.com/azure/devops/organizations/accounts/use-personal-access-tokens-to-authenticate#revoke-pats"

[[rules]]
id = "alibaba-access-key-id"
description = "Alibaba Cloud AccessKey ID: LTAI and 12-20 alphanumerics, per Alibaba Cloud RAM's AccessKey format"
regex = '''\b(LTAI[A-Za-z0-9]{12,20})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["ltai"]

[[rules]]
id = "alibaba-access-key-secret"
description = "Alibaba Cloud AccessKey secret: 30 alphanumerics assigned to an Alibaba or Aliyun name, per Alibaba Cloud RAM's AccessKey format"
regex = '''(?i:alibaba|aliyun)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([A-Za-z0-9]{30})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["alibaba", "aliyun"]

[[rules]]
id = "ibm-cloud-api-key"
description = "IBM Cloud IAM API key: 44 base64url characters assigned to an IBM name, per IBM Cloud IAM's API key format"
regex = '''(?i:ibm)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([A-Za-z0-9_-]{44})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["ibm"]

[[rules]]
id = "oracle-cloud-auth-token"
description = "Oracle Cloud (OCI) auth token: 20 characters assigned to an OCI or Oracle token or password name, per OCI IAM's auth token documentation"
regex = '''(?i:(?:oci[_.-]|oracle)[\w.-]{0,20}(?:auth[_.-]?token|password))[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([A-Za-z0-9+_:.;()<>\[\]{}#-]{20})(?:[^A-Za-z0-9+_:.;()<>\[\]{}#-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["oci_", "oci.", "oci-", "oracle"]

[[rules]]
id = "oracle-cloud-customer-secret-key"
description = "Oracle Cloud (OCI) customer secret key for the S3-compatible API: 44 base64 characters assigned to an OCI or Oracle secret name, per OCI IAM's customer secret keys"
regex = '''(?i:(?:oci[_.-]|oracle)[\w.-]{0,20}secret)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([A-Za-z0-9+/]{43}=)(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["oci_", "oci.", "oci-", "oracle"]

[[rules]]
id = "digitalocean-pat"
description = "DigitalOcean personal access token: dop_v1_ and 64 hex, per DigitalOcean's token documentation"
regex = '''\b(dop_v1_[a-f0-9]{64})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["dop_v1_"]
revoke = "https://cloud.digitalocean.com/account/api/tokens"

[[rules]]
id = "digitalocean-oauth-token"
description = "DigitalOcean OAuth access token: doo_v1_ and 64 hex, per DigitalOcean's token documentation"
regex = '''\b(doo_v1_[a-f0-9]{64})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["doo_v1_"]

[[rules]]
id = "digitalocean-refresh-token"
description = "DigitalOcean OAuth refresh token: dor_v1_ and 64 hex, per DigitalOcean's token documentation"
regex = '''\b(dor_v1_[a-f0-9]{64})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["dor_v1_"]

[[rules]]
id = "heroku-api-key"
description = "Heroku API key (legacy): a UUID assigned to a Heroku name, per Heroku's authentication documentation"
regex = '''(?i:heroku)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["heroku"]
revoke = "https://dashboard.heroku.com/account/applications"

[[rules]]
id = "heroku-api-key-v2"
description = "Heroku API key: HRKU-AA and 58 base64url characters, per Heroku's 2024 token format"
regex = '''\b(HRKU-AA[0-9a-zA-Z_-]{58})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["hrku-aa"]
revoke = "https://dashboard.heroku.com/account/applications"

[[rules]]
id = "flyio-access-token"
description = "Fly.io access token: fo1_ and 43 base64url characters, per Fly.io's token format"
regex = '''\b(fo1_[A-Za-z0-9_-]{43})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["fo1_"]

[[rules]]
id = "flyio-macaroon"
description = "Fly.io macaroon token: fm1a_, fm1r_ or fm2_ and base64, per Fly.io's macaroon token format"
regex = '''\b((?:fm1[ar]|fm2)_[A-Za-z0-9+/]{100,}={0,3})(?:[^A-Za-z0-9/+=_-]|$)'''
entropy = 3.0
keywords = ["fm1a_", "fm1r_", "fm2_"]

[[rules]]
id = "vercel-access-token"
description = "Vercel access token: 24 alphanumerics assigned to a Vercel name, per Vercel's REST API authentication"
regex = '''(?i:vercel)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([A-Za-z0-9]{24})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["vercel"]
revoke = "https://vercel.com/account/tokens"

[[rules]]
id = "netlify-access-token"
description = "Netlify personal access token: 40-46 base64url characters assigned to a Netlify name, per Netlify's API authentication"
regex = '''(?i:netlify)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([A-Za-z0-9_-]{40,46})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["netlify"]
revoke = "https://app.netlify.com/user/applications"

[[rules]]
id = "cloudflare-api-token"
description = "Cloudflare API token: 40 base64url characters assigned to a Cloudflare name, per Cloudflare's API token documentation"
regex = '''(?i:cloudflare|\bcf_api)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([A-Za-z0-9_-]{40})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["cloudflare", "cf_api"]
revoke = "https://dash.cloudflare.com/profile/api-tokens"

[[rules]]
id = "cloudflare-global-api-key"
description = "Cloudflare global API key: 37 hex assigned to a Cloudflare name, per Cloudflare's API key documentation"
regex = '''(?i:cloudflare)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([a-f0-9]{37})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["cloudflare"]
revoke = "https://dash.cloudflare.com/profile/api-tokens"

[[rules]]
id = "cloudflare-origin-ca-key"
description = "Cloudflare Origin CA key: v1.0-, 24 hex, - and 146 hex, per Cloudflare's Origin CA key format"
regex = '''\b(v1\.0-[a-f0-9]{24}-[a-f0-9]{146})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["v1.0-"]

[[rules]]
id = "linode-token"
description = "Linode (Akamai Cloud) personal access token: 64 hex assigned to a Linode name, per Linode's API documentation"
regex = '''(?i:linode)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([a-f0-9]{64})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["linode"]

[[rules]]
id = "scaleway-access-key"
description = "Scaleway API access key: SCW and 17 uppercase alphanumerics, per Scaleway IAM's API key format"
regex = '''\b(SCW[A-Z0-9]{17})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["scw"]

[[rules]]
id = "scaleway-secret-key"
description = "Scaleway API secret key: a UUID assigned to a Scaleway or SCW secret name, per Scaleway IAM's API key format"
regex = '''(?i:scaleway|scw[_.-]?secret)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["scaleway", "scw"]

[[rules]]
id = "hetzner-cloud-token"
description = "Hetzner Cloud API token: 64 alphanumerics assigned to an hcloud or Hetzner name, per Hetzner Cloud's API documentation"
regex = '''(?i:hcloud|hetzner)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([A-Za-z0-9]{64})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["hcloud", "hetzner"]

[[rules]]
id = "vultr-api-key"
description = "Vultr API key: 36 uppercase alphanumerics assigned to a Vultr name, per Vultr's API documentation"
regex = '''(?i:vultr)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([A-Z0-9]{36})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["vultr"]

[[rules]]
id = "tencent-cloud-secret-id"
description = "Tencent Cloud SecretId: AKID and 32 alphanumerics, per Tencent Cloud CAM's API key format"
regex = '''\b(AKID[A-Za-z0-9]{32})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["akid"]

[[rules]]
id = "tencent-cloud-secret-key"
description = "Tencent Cloud SecretKey: 32 alphanumerics assigned to a Tencent secret name, per Tencent Cloud CAM's API key format"
regex = '''(?i:tencent[\w.-]{0,20}secret)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([A-Za-z0-9]{32})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["tencent"]

[[rules]]
id = "yandex-api-key"
description = "Yandex Cloud API key: AQVN and 35-38 base64url characters, per Yandex Cloud's API key format"
regex = '''\b(AQVN[A-Za-z0-9_-]{35,38})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["aqvn"]

[[rules]]
id = "yandex-static-access-key"
description = "Yandex Cloud static access key ID: YC and 38 base64url characters assigned to a Yandex name, per Yandex Cloud's static key format"
regex = '''(?i:yandex)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?(YC[A-Za-z0-9_-]{38})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["yandex"]

[[rules]]
id = "yandex-iam-token"
description = "Yandex IAM token: t1. and base64url parts assigned to a Yandex name, per Yandex Cloud's IAM token format"
regex = '''(?i:yandex)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?(t1\.[A-Za-z0-9_-]+={0,2}\.[A-Za-z0-9_-]{86}={0,2})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["yandex"]

[[rules]]
id = "openshift-user-token"
description = "OpenShift OAuth access token: sha256~ and 43 base64url characters, per OpenShift's token format"
regex = '''\b(sha256~[A-Za-z0-9_-]{43})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["sha256~"]

[[rules]]
id = "kubernetes-service-account-token"
description = "Kubernetes service account token: a JWT assigned to a kube or k8s token name, per Kubernetes' service account token format"
regex = '''(?i:(?:kube|k8s)[\w.-]{0,20}token)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?(eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{20,})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
validate = "jwt"
keywords = ["kube", "k8s"]


# --- code hosting and CI -------------------------------------------------------------------------
[[rules]]
id = "github-pat"
description = "GitHub personal access token (classic): ghp_, 30 base62 characters and a 6-character CRC32 check, per GitHub's token format"
regex = '''\b(ghp_[A-Za-z0-9]{36})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
validate = "github-crc32"
keywords = ["ghp_"]
revoke = "https://github.com/settings/tokens"

[[rules]]
id = "github-oauth-token"
description = "GitHub OAuth access token: gho_, 30 base62 characters and a 6-character CRC32 check, per GitHub's token format"
regex = '''\b(gho_[A-Za-z0-9]{36})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
validate = "github-crc32"
keywords = ["gho_"]
revoke = "https://github.com/settings/applications"

[[rules]]
id = "github-app-user-token"
description = "GitHub GitHub App user-to-server token: ghu_, 30 base62 characters and a 6-character CRC32 check, per GitHub's token format"
regex = '''\b(ghu_[A-Za-z0-9]{36})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
validate = "github-crc32"
keywords = ["ghu_"]

[[rules]]
id = "github-app-installation-token"
description = "GitHub GitHub App installation (server-to-server) token: ghs_, 30 base62 characters and a 6-character CRC32 check, per GitHub's token format"
regex = '''\b(ghs_[A-Za-z0-9]{36})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
validate = "github-crc32"
keywords = ["ghs_"]

[[rules]]
id = "github-refresh-token"
description = "GitHub GitHub App refresh token: ghr_, 30 base62 characters and a 6-character CRC32 check, per GitHub's token format"
regex = '''\b(ghr_[A-Za-z0-9]{36})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
validate = "github-crc32"
keywords = ["ghr_"]

[[rules]]
id = "github-fine-grained-pat"
description = "GitHub fine-grained personal access token: github_pat_, 22 alphanumerics, _ and 59 alphanumerics, per GitHub's token format"
regex = '''\b(github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["github_pat_"]
revoke = "https://github.com/settings/personal-access-tokens"

[[rules]]
id = "gitlab-pat"
description = "GitLab personal, project or group access token: glpat- and 20 characters, per GitLab's token prefixes"
regex = '''\b(glpat-[A-Za-z0-9_-]{20})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["glpat-"]
revoke = "https://gitlab.com/-/user_settings/personal_access_tokens"

[[rules]]
id = "gitlab-pat-routable"
description = "GitLab routable access token (17.x): glpat-, 27-300 characters, . and a 2+7 character base36 suffix, per GitLab's routable token format"
regex = '''\b(glpat-[A-Za-z0-9_-]{27,300}\.[0-9a-z]{2}[0-9a-z]{7})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["glpat-"]
revoke = "https://gitlab.com/-/user_settings/personal_access_tokens"

[[rules]]
id = "gitlab-deploy-token"
description = "GitLab deploy token: gldt- and 20 characters, per GitLab's token prefixes"
regex = '''\b(gldt-[A-Za-z0-9_-]{20})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["gldt-"]

[[rules]]
id = "gitlab-runner-token"
description = "GitLab runner authentication token: glrt- and 20 characters, per GitLab's token prefixes"
regex = '''\b(glrt-[A-Za-z0-9_-]{20})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["glrt-"]

[[rules]]
id = "gitlab-ci-job-token"
description = "GitLab CI/CD job token: glcbt-, up to 5 characters, _ and 20 characters, per GitLab's token prefixes"
regex = '''\b(glcbt-[0-9a-zA-Z]{1,5}_[0-9a-zA-Z_-]{20})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["glcbt-"]

[[rules]]
id = "gitlab-feed-token"
description = "GitLab feed token: glft- and 20 characters, per GitLab's token prefixes"
regex = '''\b(glft-[A-Za-z0-9_-]{20})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["glft-"]

[[rules]]
id = "gitlab-incoming-mail-token"
description = "GitLab incoming mail token: glimt- and 25 characters, per GitLab's token prefixes"
regex = '''\b(glimt-[A-Za-z0-9_-]{25})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["glimt-"]

[[rules]]
id = "gitlab-agent-token"
description = "GitLab Kubernetes agent token: glagent- and 50 characters, per GitLab's token prefixes"
regex = '''\b(glagent-[A-Za-z0-9_-]{50})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["glagent-"]

[[rules]]
id = "gitlab-oauth-app-secret"
description = "GitLab OAuth application secret: gloas- and 64 characters, per GitLab's token prefixes"
regex = '''\b(gloas-[A-Za-z0-9_-]{64})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["gloas-"]

[[rules]]
id = "gitlab-scim-token"
description = "GitLab SCIM token: glsoat- and 20 characters, per GitLab's token prefixes"
regex = '''\b(glsoat-[A-Za-z0-9_-]{20})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["glsoat-"]

[[rules]]
id = "gitlab-feature-flag-token"
description = "GitLab feature flags client token: glffct- and 20 characters, per GitLab's token prefixes"
regex = '''\b(glffct-[A-Za-z0-9_-]{20})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["glffct-"]
severity = "low"

[[rules]]
id = "gitlab-pipeline-trigger-token"
description = "GitLab pipeline trigger token: glptt- and 40 hex, per GitLab's token prefixes"
regex = '''\b(glptt-[0-9a-f]{40})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["glptt-"]

[[rules]]
id = "gitlab-runner-registration-token"
description = "GitLab runner registration token (deprecated): GR1348941 and 20 characters, per GitLab's token prefixes"
regex = '''\b(GR1348941[A-Za-z0-9_-]{20})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["gr1348941"]

[[rules]]
id = "gitlab-session-cookie"
description = "GitLab session cookie: _gitlab_session= and 32 hex, per GitLab's session cookie"
regex = '''_gitlab_session=([0-9a-f]{32})\b'''
secretGroup = 1
entropy = 3.0
keywords = ["_gitlab_session="]
severity = "medium"

[[rules]]
id = "bitbucket-app-password"
description = "Bitbucket app password / Atlassian API token for Bitbucket: ATBB and 32 characters, per Atlassian's Bitbucket app password format"
regex = '''\b(ATBB[A-Za-z0-9_=.-]{32})(?:[^A-Za-z0-9_=.-]|$)'''
entropy = 3.0
keywords = ["atbb"]
revoke = "https://bitbucket.org/account/settings/app-passwords/"

[[rules]]
id = "bitbucket-client-id"
description = "Bitbucket OAuth consumer key: 32 alphanumerics assigned to a Bitbucket name, per Bitbucket Cloud's OAuth consumers"
regex = '''(?i:bitbucket)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([A-Za-z0-9]{32})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["bitbucket"]
severity = "medium"

[[rules]]
id = "bitbucket-client-secret"
description = "Bitbucket OAuth consumer secret: 64 base64url characters assigned to a Bitbucket name, per Bitbucket Cloud's OAuth consumers"
regex = '''(?i:bitbucket)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([A-Za-z0-9=_-]{64})(?:[^A-Za-z0-9=_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["bitbucket"]

[[rules]]
id = "circleci-personal-token"
description = "CircleCI personal API token: CCIPAT_, 22 alphanumerics, _ and 40 hex, per CircleCI's token format"
regex = '''\b(CCIPAT_[A-Za-z0-9]{22}_[a-f0-9]{40})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["ccipat_"]
revoke = "https://app.circleci.com/settings/user/tokens"

[[rules]]
id = "circleci-project-token"
description = "CircleCI project API token: CCIPRJ_, 22 alphanumerics, _ and 40 hex, per CircleCI's token format"
regex = '''\b(CCIPRJ_[A-Za-z0-9]{22}_[a-f0-9]{40})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["cciprj_"]

[[rules]]
id = "circleci-legacy-token"
description = "CircleCI legacy API token: 40 hex assigned to a CircleCI name, per CircleCI's API documentation"
regex = '''(?i:circle[_.-]?ci)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([a-f0-9]{40})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["circleci", "circle_ci", "circle-ci", "circle.ci"]

[[rules]]
id = "travis-ci-token"
description = "Travis CI API token: 22 base64url characters assigned to a Travis name, per Travis CI's API authentication"
regex = '''(?i:travis)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([A-Za-z0-9_-]{22})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["travis"]

[[rules]]
id = "buildkite-api-token"
description = "Buildkite API access token: bkua_ and 40 hex, per Buildkite's API access token format"
regex = '''\b(bkua_[a-f0-9]{40})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["bkua_"]

[[rules]]
id = "buildkite-agent-token"
description = "Buildkite agent token: 50 hex or alphanumerics assigned to a Buildkite agent name, per Buildkite's agent token documentation"
regex = '''(?i:buildkite[\w.-]{0,10}agent)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([A-Za-z0-9]{50})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["buildkite"]

[[rules]]
id = "jenkins-api-token"
description = "Jenkins API token: 11 and 32 hex (34 characters) assigned to a Jenkins name, per Jenkins' API token format"
regex = '''(?i:jenkins)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?(11[a-f0-9]{32})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["jenkins"]

[[rules]]
id = "drone-ci-token"
description = "Drone CI access token: 32 alphanumerics assigned to a Drone name, per Drone's API authentication"
regex = '''(?i:drone)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([A-Za-z0-9]{32})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["drone"]

[[rules]]
id = "codecov-token"
description = "Codecov upload token: a UUID assigned to a Codecov name, per Codecov's upload token documentation"
regex = '''(?i:codecov)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["codecov"]

[[rules]]
id = "sonarqube-token"
description = "SonarQube / SonarCloud token: squ_, sqp_ or sqa_ and 40 hex, per SonarQube's token types"
regex = '''\b(sq[upa]_[a-f0-9]{40})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["squ_", "sqp_", "sqa_"]

[[rules]]
id = "snyk-api-token"
description = "Snyk API token: a UUID assigned to a Snyk name, per Snyk's API authentication"
regex = '''(?i:snyk)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["snyk"]

[[rules]]
id = "sourcegraph-access-token"
description = "Sourcegraph access token: sgp_, an optional 16-hex or local instance part, and 40 hex, per Sourcegraph's token format"
regex = '''\b(sgp_(?:[a-f0-9]{16}_|local_)?[a-f0-9]{40})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["sgp_"]

[[rules]]
id = "harness-access-token"
description = "Harness personal or service account token: pat. or sat., account id, token id and secret, per Harness' API key format"
regex = '''\b((?:pat|sat)\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{20})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["pat.", "sat."]

[[rules]]
id = "terraform-cloud-token"
description = "HCP Terraform / Terraform Enterprise API token: 14 alphanumerics, .atlasv1. and 60-70 characters, per HashiCorp's API token format"
regex = '''\b([A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=-]{60,70})(?:[^A-Za-z0-9_=-]|$)'''
entropy = 3.0
keywords = ["atlasv1"]

[[rules]]
id = "pulumi-access-token"
description = "Pulumi access token: pul- and 40 hex, per Pulumi Cloud's access token format"
regex = '''\b(pul-[a-f0-9]{40})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["pul-"]

[[rules]]
id = "octopus-deploy-api-key"
description = "Octopus Deploy API key: API- and 26-32 uppercase alphanumerics assigned near an Octopus name, per Octopus Deploy's API key format"
regex = '''(?i:octopus)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?(API-[A-Z0-9]{26,32})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["octopus"]

[[rules]]
id = "infracost-api-key"
description = "Infracost API key: ico- and 32 alphanumerics, per Infracost's API key format"
regex = '''\b(ico-[A-Za-z0-9]{32})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["ico-"]

[[rules]]
id = "prefect-api-key"
description = "Prefect Cloud API key: pnu_ and 36 alphanumerics, per Prefect's API key format"
regex = '''\b(pnu_[A-Za-z0-9]{36})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["pnu_"]

[[rules]]
id = "readme-api-key"
description = "ReadMe API key: rdme_ and 70 lowercase alphanumerics, per ReadMe's API key format"
regex = '''\b(rdme_[a-z0-9]{70})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["rdme_"]

[[rules]]
id = "postman-api-key"
description = "Postman API key: PMAK-, 24 hex, - and 34 hex, per Postman's API key format"
regex = '''\b(PMAK-[a-f0-9]{24}-[a-f0-9]{34})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["pmak-"]

[[rules]]
id = "scalingo-api-token"
description = "Scalingo API token: tk-us- and 48 characters, per Scalingo's API token format"
regex = '''\b(tk-us-[A-Za-z0-9_-]{48})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["tk-us-"]

[[rules]]
id = "render-api-key"
description = "Render API key: rnd_ and 32 alphanumerics, per Render's API key format"
regex = '''\b(rnd_[A-Za-z0-9]{32})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["rnd_"]

[[rules]]
id = "railway-token"
description = "Railway API token: a UUID assigned to a Railway name, per Railway's public API authentication"
regex = '''(?i:railway)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["railway"]


# --- package registries --------------------------------------------------------------------------
[[rules]]
id = "npm-access-token"
description = "npm access token: npm_, 30 base62 characters and a 6-character CRC32 check, per npm's token format (the same scheme as GitHub's)"
regex = '''\b(npm_[A-Za-z0-9]{36})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
validate = "github-crc32"
keywords = ["npm_"]
revoke = "https://docs.npmjs.com/revoking-access-tokens"

[[rules]]
id = "npmrc-auth-token"
description = "npm legacy auth token in .npmrc: _authToken= and a UUID, per npm's .npmrc documentation"
regex = ''':_authToken=\s{0,3}[\"']?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b'''
secretGroup = 1
entropy = 3.0
keywords = [":_authtoken="]

[[rules]]
id = "npmrc-basic-auth"
description = "npm basic credentials in .npmrc: _auth= and base64 of user:password, per npm's .npmrc documentation"
path = '''(?i)(?:^|/)\.?npmrc$'''
regex = '''(?m)(?:^|[\s:])_auth\s{0,3}=\s{0,3}[\"']?([A-Za-z0-9+/]{16,}={0,2})(?:[^A-Za-z0-9+/=]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["_auth"]

[[rules]]
id = "pypi-upload-token"
description = "PyPI API token: pypi- and a macaroon whose serialised prefix names pypi.org (AgEIcHlwaS5vcmc), per PyPI's API token format"
regex = '''\b(pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["pypi-ageichlwas5vcmc"]
revoke = "https://pypi.org/manage/account/token/"

[[rules]]
id = "pypi-test-upload-token"
description = "TestPyPI API token: pypi- and a macaroon whose serialised prefix names test.pypi.org (AgENdGVzdC5weXBpLm9yZw), per PyPI's API token format"
regex = '''\b(pypi-AgENdGVzdC5weXBpLm9yZw[A-Za-z0-9_-]{50,})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["pypi-agendgvzdc5wexbplm9yzw"]

[[rules]]
id = "rubygems-api-key"
description = "RubyGems API key: rubygems_ and 48 hex, per RubyGems.org's API key format"
regex = '''\b(rubygems_[a-f0-9]{48})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["rubygems_"]
revoke = "https://rubygems.org/profile/api_keys"

[[rules]]
id = "nuget-api-key"
description = "NuGet.org API key: oy2 and 43 lowercase alphanumerics, per NuGet.org's API key format"
regex = '''\b(oy2[a-z0-9]{43})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["oy2"]
revoke = "https://www.nuget.org/account/apikeys"

[[rules]]
id = "nuget-config-password"
description = "Password in a NuGet.config packageSourceCredentials entry, per NuGet's config file reference"
path = '''(?i)nuget\.config$'''
regex = '''<add\s+key=\"(?:ClearText)?Password\"\s+value=\"([^\"%]{8,})\"'''
secretGroup = 1
entropy = 2.5
keywords = ["<add"]

[[rules]]
id = "crates-io-api-token"
description = "crates.io API token: cio and 32 alphanumerics, per crates.io's token format"
regex = '''\b(cio[A-Za-z0-9]{32})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["cio"]
revoke = "https://crates.io/settings/tokens"

[[rules]]
id = "docker-hub-pat"
description = "Docker Hub personal access token: dckr_pat_ and 27 base64url characters, per Docker's access token format"
regex = '''\b(dckr_pat_[A-Za-z0-9_-]{27})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["dckr_pat_"]
revoke = "https://app.docker.com/settings/personal-access-tokens"

[[rules]]
id = "docker-hub-oat"
description = "Docker Hub organization access token: dckr_oat_ and 32 base64url characters, per Docker's organization access token format"
regex = '''\b(dckr_oat_[A-Za-z0-9_-]{32})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["dckr_oat_"]

[[rules]]
id = "docker-config-auth"
description = "Registry credentials in a Docker config.json: \"auth\" and base64 of user:password, per Docker's config file format"
path = '''(?i)(?:^|/)(?:config\.json|\.dockercfg)$'''
regex = '''\"auth\"\s{0,3}:\s{0,3}\"([A-Za-z0-9+/]{16,}={0,2})\"'''
secretGroup = 1
entropy = 3.0
keywords = ["\"auth\""]

[[rules]]
id = "artifactory-api-key"
description = "JFrog Artifactory API key: AKCp and 69 alphanumerics, per JFrog's API key format"
regex = '''\b(AKCp[A-Za-z0-9]{69})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["akcp"]

[[rules]]
id = "artifactory-reference-token"
description = "JFrog reference token: cmVmd (base64 of ref) and 59 alphanumerics, per JFrog's access token format"
regex = '''\b(cmVmd[A-Za-z0-9]{59})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["cmvmd"]

[[rules]]
id = "jfrog-identity-token"
description = "JFrog identity token: 64 alphanumerics assigned to a JFrog or Artifactory name, per JFrog's identity token documentation"
regex = '''(?i:jfrog|artifactory)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([A-Za-z0-9]{64})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["jfrog", "artifactory"]

[[rules]]
id = "clojars-deploy-token"
description = "Clojars deploy token: CLOJARS_ and 60 lowercase alphanumerics, per Clojars' deploy token format"
regex = '''\b(CLOJARS_[a-z0-9]{60})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["clojars_"]

[[rules]]
id = "hex-pm-api-key"
description = "Hex.pm API key: 32 hex assigned to a HEX_API_KEY name, per Hex's API key documentation"
regex = '''(?i:hex_api_key)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([a-f0-9]{32})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["hex_api_key"]

[[rules]]
id = "maven-settings-password"
description = "Password in a Maven settings.xml server entry, per Maven's settings reference"
path = '''(?i)settings(?:-security)?\.xml$'''
regex = '''<password>([^<$]{8,})</password>'''
secretGroup = 1
entropy = 2.5
keywords = ["<password>"]

[[rules]]
id = "gradle-publish-key"
description = "Gradle Plugin Portal publishing key or secret: 32 alphanumerics assigned to gradle.publish.key or .secret, per the Gradle Plugin Portal's publishing guide"
regex = '''(?i:gradle\.publish\.(?:key|secret))[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([A-Za-z0-9]{32})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["gradle.publish."]


# --- AI providers --------------------------------------------------------------------------------
[[rules]]
id = "openai-api-key"
description = "OpenAI API key: sk-, an optional proj-, svcacct- or admin- scope, and two base64url parts around T3BlbkFJ (base64 of OpenAI), per OpenAI's key format"
regex = '''\b(sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,74}T3BlbkFJ[A-Za-z0-9_-]{20,74})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["t3blbkfj"]
revoke = "https://platform.openai.com/api-keys"

[[rules]]
id = "anthropic-api-key"
description = "Anthropic API key: sk-ant-api03-, 93 base64url characters and AA, per Anthropic's key format"
regex = '''\b(sk-ant-api03-[A-Za-z0-9_-]{93}AA)(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["sk-ant-api03-"]
revoke = "https://console.anthropic.com/settings/keys"

[[rules]]
id = "anthropic-admin-key"
description = "Anthropic Admin API key: sk-ant-admin01-, 93 base64url characters and AA, per Anthropic's Admin API key format"
regex = '''\b(sk-ant-admin01-[A-Za-z0-9_-]{93}AA)(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["sk-ant-admin01-"]
revoke = "https://console.anthropic.com/settings/admin-keys"

[[rules]]
id = "cohere-api-key"
description = "Cohere API key: 40 alphanumerics assigned to a Cohere or CO_API_KEY name, per Cohere's API key documentation"
regex = '''(?i:cohere[_.-]|co_api_key)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([A-Za-z0-9]{40})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.5
keywords = ["cohere_", "cohere-", "cohere.", "co_api_key"]

[[rules]]
id = "huggingface-token"
description = "Hugging Face user access token: hf_ and 34 letters, per Hugging Face's token format"
regex = '''\b(hf_[A-Za-z]{34})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["hf_"]
revoke = "https://huggingface.co/settings/tokens"

[[rules]]
id = "huggingface-org-token"
description = "Hugging Face organization API token (legacy): api_org_ and 34 letters, per Hugging Face's token format"
regex = '''\b(api_org_[A-Za-z]{34})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["api_org_"]

[[rules]]
id = "replicate-api-token"
description = "Replicate API token: r8_ and 37 alphanumerics, per Replicate's API token format"
regex = '''\b(r8_[A-Za-z0-9]{37})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["r8_"]
revoke = "https://replicate.com/account/api-tokens"

[[rules]]
id = "groq-api-key"
description = "Groq API key: gsk_ and 52 alphanumerics, per Groq's API key format"
regex = '''\b(gsk_[A-Za-z0-9]{52})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["gsk_"]
revoke = "https://console.groq.com/keys"

[[rules]]
id = "mistral-api-key"
description = "Mistral AI API key: 32 alphanumerics assigned to a Mistral name, per Mistral's API key documentation"
regex = '''(?i:mistral)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([A-Za-z0-9]{32})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.5
keywords = ["mistral"]

[[rules]]
id = "perplexity-api-key"
description = "Perplexity API key: pplx- and 48 alphanumerics, per Perplexity's API key format"
regex = '''\b(pplx-[A-Za-z0-9]{48})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["pplx-"]
revoke = "https://www.perplexity.ai/settings/api"

[[rules]]
id = "xai-api-key"
description = "xAI (Grok) API key: xai- and 80 alphanumerics, per xAI's API key format"
regex = '''\b(xai-[A-Za-z0-9]{80})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["xai-"]

[[rules]]
id = "openrouter-api-key"
description = "OpenRouter API key: sk-or-v1- and 64 hex, per OpenRouter's API key format"
regex = '''\b(sk-or-v1-[a-f0-9]{64})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["sk-or-v1-"]
revoke = "https://openrouter.ai/settings/keys"

[[rules]]
id = "deepseek-api-key"
description = "DeepSeek API key: sk- and 32 hex assigned to a DeepSeek name, per DeepSeek's API key format"
regex = '''(?i:deepseek)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?(sk-[a-f0-9]{32})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["deepseek"]

[[rules]]
id = "together-api-key"
description = "Together AI API key: 64 hex or tgp_v1_ and 43 base64url characters assigned to a Together name, per Together AI's API key format"
regex = '''(?i:together_?(?:ai|api))[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?((?:[a-f0-9]{64}|tgp_v1_[A-Za-z0-9_-]{43}))(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["together_ai", "togetherai", "together_api", "togetherapi"]

[[rules]]
id = "fireworks-api-key"
description = "Fireworks AI API key: fw_ and 24 alphanumerics, per Fireworks AI's API key format"
regex = '''\b(fw_[A-Za-z0-9]{24})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.5
keywords = ["fw_"]

[[rules]]
id = "langsmith-api-key"
description = "LangSmith API key: lsv2_pt_ or lsv2_sk_, 32 hex, _ and 10 hex, per LangSmith's API key format"
regex = '''\b(lsv2_(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["lsv2_"]

[[rules]]
id = "elevenlabs-api-key"
description = "ElevenLabs API key: sk_ and 48 hex assigned to an ElevenLabs or xi-api-key name, per ElevenLabs' API key format"
regex = '''(?i:elevenlabs|xi[_-]api[_-]key)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?(sk_[a-f0-9]{48})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["elevenlabs", "xi-api-key", "xi_api_key"]

[[rules]]
id = "deepgram-api-key"
description = "Deepgram API key: 40 hex assigned to a Deepgram name, per Deepgram's API key documentation"
regex = '''(?i:deepgram)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([a-f0-9]{40})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["deepgram"]

[[rules]]
id = "assemblyai-api-key"
description = "AssemblyAI API key: 32 hex assigned to an AssemblyAI name, per AssemblyAI's API key documentation"
regex = '''(?i:assembly[_.-]?ai)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([a-f0-9]{32})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["assemblyai", "assembly_ai", "assembly-ai"]

[[rules]]
id = "stability-api-key"
description = "Stability AI API key: sk- and 48 alphanumerics assigned to a Stability name, per Stability AI's API key format"
regex = '''(?i:stability[_.-]?(?:ai|api))[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?(sk-[A-Za-z0-9]{48})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["stability_ai", "stability_api", "stabilityai", "stabilityapi", "stability-ai", "stability-api", "stability.ai", "stability.api"]

[[rules]]
id = "voyage-api-key"
description = "Voyage AI API key: pa- and 43 base64url characters assigned to a Voyage name, per Voyage AI's API key format"
regex = '''(?i:voyage)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?(pa-[A-Za-z0-9_-]{43})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["voyage"]

[[rules]]
id = "wandb-api-key"
description = "Weights & Biases API key: 40 hex assigned to a wandb name, per W&B's API key documentation"
regex = '''(?i:wandb)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([a-f0-9]{40})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["wandb"]

[[rules]]
id = "pinecone-api-key"
description = "Pinecone API key: pcsk_, a 5-6 character id, _ and the secret, per Pinecone's API key format"
regex = '''\b(pcsk_[A-Za-z0-9]{5,6}_[A-Za-z0-9]{60,70})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["pcsk_"]


)toml";

constexpr std::string_view kPart1 =
    R"toml(# --- payments and commerce -----------------------------------------------------------------------
[[rules]]
id = "stripe-secret-key"
description = "Stripe live secret key: sk_live_ and 24-99 alphanumerics, per Stripe's API keys documentation"
regex = '''\b(sk_live_[A-Za-z0-9]{24,99})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["sk_live_"]
revoke = "https://dashboard.stripe.com/apikeys"

[[rules]]
id = "stripe-test-secret-key"
description = "Stripe test-mode secret key: sk_test_ and 24-99 alphanumerics, per Stripe's API keys documentation"
regex = '''\b(sk_test_[A-Za-z0-9]{24,99})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["sk_test_"]
severity = "low"
revoke = "https://dashboard.stripe.com/test/apikeys"

[[rules]]
id = "stripe-restricted-key"
description = "Stripe restricted key: rk_live_ or rk_test_ and 24-99 alphanumerics, per Stripe's restricted keys documentation"
regex = '''\b(rk_(?:live|test)_[A-Za-z0-9]{24,99})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["rk_live_", "rk_test_"]
revoke = "https://dashboard.stripe.com/apikeys"

[[rules]]
id = "stripe-webhook-secret"
description = "Webhook signing secret of Stripe (and of Standard Webhooks / Svix): whsec_ and 32 or more base64 characters, per Stripe's webhook signature documentation"
regex = '''\b(whsec_[A-Za-z0-9+/]{32,88}={0,2})(?:[^A-Za-z0-9+/=]|$)'''
entropy = 3.0
keywords = ["whsec_"]
revoke = "https://dashboard.stripe.com/webhooks"
[[rules.allowlists]]
description = "the Standard Webhooks specification's documented example secret"
regexes = ['''^whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw$''']

[[rules]]
id = "square-access-token"
description = "Square access token: sq0atp- and 22 characters (legacy) or EAAA and 60 characters, per Square's OAuth and access token format"
regex = '''\b((?:sq0atp-[0-9A-Za-z_-]{22}|EAAA[0-9A-Za-z_-]{60}))(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["sq0atp-", "eaaa"]
revoke = "https://developer.squareup.com/apps"

[[rules]]
id = "square-oauth-secret"
description = "Square OAuth application secret: sq0csp- and 43 characters, per Square's OAuth documentation"
regex = '''\b(sq0csp-[0-9A-Za-z_-]{43})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["sq0csp-"]
revoke = "https://developer.squareup.com/apps"

[[rules]]
id = "braintree-access-token"
description = "Braintree (PayPal) access token (access_token$production$, a 16-character merchant id, $ and 32 hex), per Braintree's access token format"
regex = '''(access_token\$production\$[0-9a-z]{16}\$[0-9a-f]{32})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["access_token$production$"]

[[rules]]
id = "paypal-client-secret"
description = "PayPal REST API client secret: 80 base64url characters assigned to a PayPal secret name, per PayPal's REST API credentials"
regex = '''(?i:paypal[\w.-]{0,20}secret)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([A-Za-z0-9_-]{80})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["paypal"]

[[rules]]
id = "adyen-api-key"
description = "Adyen API key: AQE and base64 characters assigned to an Adyen name, per Adyen's API credential format"
regex = '''(?i:adyen)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?(AQE[A-Za-z0-9+/=._-]{80,200})(?:[^A-Za-z0-9+/=._-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["adyen"]

[[rules]]
id = "shopify-access-token"
description = "Shopify Admin API access token: shpat_ and 32 hex, per Shopify's access token format"
regex = '''\b(shpat_[a-fA-F0-9]{32})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["shpat_"]

[[rules]]
id = "shopify-custom-app-token"
description = "Shopify custom app access token: shpca_ and 32 hex, per Shopify's access token format"
regex = '''\b(shpca_[a-fA-F0-9]{32})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["shpca_"]

[[rules]]
id = "shopify-private-app-token"
description = "Shopify private app access token: shppa_ and 32 hex, per Shopify's access token format"
regex = '''\b(shppa_[a-fA-F0-9]{32})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["shppa_"]

[[rules]]
id = "shopify-shared-secret"
description = "Shopify app shared secret: shpss_ and 32 hex, per Shopify's access token format"
regex = '''\b(shpss_[a-fA-F0-9]{32})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["shpss_"]

[[rules]]
id = "plaid-access-token"
description = "Plaid access token: access-, the environment, - and a UUID, per Plaid's token format"
regex = '''(?i:plaid)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?(access-(?:sandbox|development|production)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["plaid"]

[[rules]]
id = "plaid-secret"
description = "Plaid API secret: 30 lowercase alphanumerics assigned to a Plaid secret name, per Plaid's API keys"
regex = '''(?i:plaid[\w.-]{0,20}secret)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([a-z0-9]{30})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["plaid"]

[[rules]]
id = "coinbase-api-secret"
description = "Coinbase API secret: 64 base64url characters assigned to a Coinbase name, per Coinbase's API key documentation"
regex = '''(?i:coinbase)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([A-Za-z0-9_-]{64})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["coinbase"]

[[rules]]
id = "razorpay-key-id"
description = "Razorpay API key id: rzp_live_ or rzp_test_ and 14 alphanumerics, per Razorpay's API keys"
regex = '''\b(rzp_(?:live|test)_[A-Za-z0-9]{14})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["rzp_live_", "rzp_test_"]
severity = "medium"

[[rules]]
id = "razorpay-key-secret"
description = "Razorpay API key secret: 24 alphanumerics assigned to a Razorpay secret name, per Razorpay's API keys"
regex = '''(?i:razorpay[\w.-]{0,20}secret)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([A-Za-z0-9]{24})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["razorpay"]

[[rules]]
id = "flutterwave-secret-key"
description = "Flutterwave secret key: FLWSECK- or FLWSECK_TEST-, 32 hex and -X, per Flutterwave's API keys"
regex = '''\b(FLWSECK(?:_TEST)?-[a-h0-9]{32}-X)(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["flwseck"]

[[rules]]
id = "flutterwave-encryption-key"
description = "Flutterwave encryption key: FLWSECK or FLWSECK_TEST and 12 hex, per Flutterwave's API keys"
regex = '''\b(FLWSECK(?:_TEST)?[a-h0-9]{12})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["flwseck"]

[[rules]]
id = "gocardless-access-token"
description = "GoCardless access token: live_ and 40 characters assigned to a GoCardless name, per GoCardless' API documentation"
regex = '''(?i:gocardless)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?(live_[A-Za-z0-9_=-]{40})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["gocardless"]

[[rules]]
id = "paddle-api-key"
description = "Paddle Billing API key: pdl_live_apikey_ or pdl_sdbx_apikey_, a 26-character ULID, _, 22 characters, _ and 3, per Paddle's API key format"
regex = '''\b(pdl_(?:live|sdbx)_apikey_[a-z0-9]{26}_[A-Za-z0-9]{22}_[A-Za-z0-9]{3})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["pdl_live_apikey_", "pdl_sdbx_apikey_"]

[[rules]]
id = "mollie-api-key"
description = "Mollie API key: live_ or test_ and 30 alphanumerics assigned to a Mollie name, per Mollie's API keys"
regex = '''(?i:mollie)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?((?:live|test)_[A-Za-z0-9]{30})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["mollie"]

[[rules]]
id = "shippo-api-token"
description = "Shippo API token: shippo_live_ or shippo_test_ and 40 hex, per Shippo's API token format"
regex = '''\b(shippo_(?:live|test)_[a-f0-9]{40})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["shippo_"]

[[rules]]
id = "easypost-api-key"
description = "EasyPost API key: EZAK (production) or EZTK (test) and 54 alphanumerics, per EasyPost's API keys"
regex = '''\b(EZ[AT]K[A-Za-z0-9]{54})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["ezak", "eztk"]

[[rules]]
id = "duffel-api-token"
description = "Duffel API token: duffel_live_ or duffel_test_ and 43 characters, per Duffel's access token format"
regex = '''\b(duffel_(?:live|test)_[A-Za-z0-9_=-]{43})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["duffel_"]

[[rules]]
id = "lemonsqueezy-api-key"
description = "Lemon Squeezy API key: a JWT assigned to a Lemon Squeezy name, per Lemon Squeezy's API authentication"
regex = '''(?i:lemon[_.-]?squeezy)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?(eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{20,})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
validate = "jwt"
keywords = ["lemonsqueezy", "lemon_squeezy", "lemon-squeezy"]


# --- messaging and mail --------------------------------------------------------------------------
[[rules]]
id = "slack-bot-token"
description = "Slack bot token: xoxb-, the workspace id, the bot id and 24 alphanumerics, per Slack's token types"
regex = '''\b(xoxb-[0-9]{10,13}-[0-9]{10,13}-[A-Za-z0-9]{24})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["xoxb-"]
revoke = "https://api.slack.com/apps"

[[rules]]
id = "slack-user-token"
description = "Slack user token: xoxp-, three numeric ids and 32 hex, per Slack's token types"
regex = '''\b(xoxp-[0-9]{10,13}-[0-9]{10,13}-[0-9]{10,13}-[a-f0-9]{32})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["xoxp-"]
revoke = "https://api.slack.com/apps"

[[rules]]
id = "slack-app-token"
description = "Slack app-level token: xapp-, a version digit, the app id, a numeric id and 64 hex, per Slack's token types"
regex = '''\b(xapp-\d-[A-Z0-9]{9,12}-\d{10,13}-[a-f0-9]{64})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["xapp-"]
revoke = "https://api.slack.com/apps"

[[rules]]
id = "slack-config-token"
description = "Slack app configuration access token: xoxe.xoxp- or xoxe.xoxb-, a digit and 163-166 uppercase alphanumerics, per Slack's app manifest API"
regex = '''\b(xoxe\.xox[bp]-\d-[A-Z0-9]{163,166})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["xoxe.xoxp-", "xoxe.xoxb-"]

[[rules]]
id = "slack-config-refresh-token"
description = "Slack app configuration refresh token: xoxe-, a digit and 146 uppercase alphanumerics, per Slack's app manifest API"
regex = '''\b(xoxe-\d-[A-Z0-9]{146})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["xoxe-"]

[[rules]]
id = "slack-legacy-token"
description = "Slack legacy token: xoxa-, xoxr-, xoxo- or xoxs- and numeric ids with an alphanumeric tail, per Slack's legacy token types"
regex = '''\b(xox[aors]-(?:[0-9]{1,13}-){1,4}[A-Za-z0-9]{16,64})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["xoxa-", "xoxr-", "xoxo-", "xoxs-"]

[[rules]]
id = "slack-webhook-url"
description = "Slack incoming webhook or workflow trigger URL: hooks.slack.com/services/ and its secret path, per Slack's incoming webhooks"
regex = '''(https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/]{43,56})(?:[^A-Za-z0-9+/]|$)'''
entropy = 3.0
keywords = ["hooks.slack.com"]
revoke = "https://api.slack.com/apps"

[[rules]]
id = "discord-webhook-url"
description = "Discord webhook URL: discord.com/api/webhooks/, the numeric id and a 68-character token, per Discord's webhook resource"
regex = '''(https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/[0-9]{17,20}/[A-Za-z0-9_-]{60,68})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["/api/webhooks/"]

[[rules]]
id = "discord-bot-token"
description = "Discord bot token: base64 of the bot's numeric id, a timestamp part and an HMAC part, per Discord's bot authentication"
regex = '''(?i:discord)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([MNO][A-Za-z0-9_-]{23,25}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,38})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
validate = "discord-bot-token"
keywords = ["discord"]
revoke = "https://discord.com/developers/applications"

[[rules]]
id = "discord-client-secret"
description = "Discord OAuth2 client secret: 32 base64url characters assigned to a Discord secret name, per Discord's OAuth2 documentation"
regex = '''(?i:discord[\w.-]{0,20}secret)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([A-Za-z0-9_-]{32})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["discord"]

[[rules]]
id = "telegram-bot-token"
description = "Telegram bot token: the bot's numeric id, :AA and 33 base64url characters, per Telegram's Bot API"
regex = '''\b([0-9]{8,10}:AA[0-9A-Za-z_-]{33})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = [":aa"]
revoke = "https://t.me/BotFather"

[[rules]]
id = "twilio-api-key"
description = "Twilio API key SID: SK and 32 hex, per Twilio's API keys"
regex = '''\b(SK[0-9a-f]{32})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
revoke = "https://console.twilio.com/us1/account/keys-credentials/api-keys"

[[rules]]
id = "twilio-auth-token"
description = "Twilio auth token: 32 hex assigned to a Twilio name, per Twilio's account credentials"
regex = '''(?i:twilio)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([a-f0-9]{32})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["twilio"]
revoke = "https://console.twilio.com/us1/account/keys-credentials/api-keys"

[[rules]]
id = "sendgrid-api-key"
description = "SendGrid API key: SG., 22 base64url characters, . and 43, per SendGrid's API keys"
regex = '''\b(SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["sg."]
revoke = "https://app.sendgrid.com/settings/api_keys"

[[rules]]
id = "mailgun-api-key"
description = "Mailgun API key (legacy): key- and 32 hex, per Mailgun's API keys"
regex = '''\b(key-[0-9a-f]{32})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["key-"]
revoke = "https://app.mailgun.com/settings/api_security"

[[rules]]
id = "mailgun-private-key"
description = "Mailgun private API key or webhook signing key: 32 hex, - 8 hex, - 8 hex assigned to a Mailgun name, per Mailgun's API keys"
regex = '''(?i:mailgun)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([a-f0-9]{32}-[a-f0-9]{8}-[a-f0-9]{8})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["mailgun"]
severity = "critical"
revoke = "https://app.mailgun.com/settings/api_security"

[[rules]]
id = "mailgun-public-key"
description = "Mailgun public validation key: pubkey- and 32 hex, per Mailgun's API keys"
regex = '''\b(pubkey-[a-f0-9]{32})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["pubkey-"]
severity = "low"

[[rules]]
id = "mailchimp-api-key"
description = "Mailchimp Marketing API key: 32 hex, -us and the data centre number, per Mailchimp's API keys"
regex = '''\b([0-9a-f]{32}-us[0-9]{1,2})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["-us"]

[[rules]]
id = "mandrill-api-key"
description = "Mandrill (Mailchimp Transactional) API key: md- and 22 characters (or 22 alone) assigned to a Mandrill name, per Mandrill's API keys"
regex = '''(?i:mandrill)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?((?:md-)?[A-Za-z0-9_-]{22})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["mandrill"]

[[rules]]
id = "postmark-server-token"
description = "Postmark server or account token: a UUID assigned to a Postmark name, per Postmark's API authentication"
regex = '''(?i:postmark)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["postmark"]

[[rules]]
id = "sparkpost-api-key"
description = "SparkPost API key: 40 hex assigned to a SparkPost name, per SparkPost's API keys"
regex = '''(?i:sparkpost)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([a-f0-9]{40})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["sparkpost"]

[[rules]]
id = "brevo-api-key"
description = "Brevo (Sendinblue) API key: xkeysib-, 64 hex, - and 16 alphanumerics, per Brevo's API keys"
regex = '''\b(xkeysib-[a-f0-9]{64}-[A-Za-z0-9]{16})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["xkeysib-"]

[[rules]]
id = "brevo-smtp-key"
description = "Brevo (Sendinblue) SMTP key: xsmtpsib-, 64 hex, - and 16 alphanumerics, per Brevo's SMTP keys"
regex = '''\b(xsmtpsib-[a-f0-9]{64}-[A-Za-z0-9]{16})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["xsmtpsib-"]

[[rules]]
id = "mailjet-api-secret"
description = "Mailjet API key or secret: 32 hex assigned to a Mailjet name, per Mailjet's API authentication"
regex = '''(?i:mailjet|\bmj_apikey)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([a-f0-9]{32})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["mailjet", "mj_apikey"]

[[rules]]
id = "resend-api-key"
description = "Resend API key: re_, 8 characters, _ and 24, assigned to a Resend name, per Resend's API keys"
regex = '''(?i:resend[_.-]?api[_.-]?key)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?(re_[A-Za-z0-9]{8}_[A-Za-z0-9]{24})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["resend_api", "resend-api", "resend.api", "resendapi"]

[[rules]]
id = "mailersend-api-token"
description = "MailerSend API token: mlsn. and 64 hex, per MailerSend's API token format"
regex = '''\b(mlsn\.[a-f0-9]{64})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["mlsn."]

[[rules]]
id = "messagebird-api-key"
description = "MessageBird (Bird) API key: 25 alphanumerics assigned to a MessageBird name, per MessageBird's API authentication"
regex = '''(?i:message[_-]?bird)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([A-Za-z0-9]{25})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["messagebird", "message_bird", "message-bird"]

[[rules]]
id = "vonage-api-secret"
description = "Vonage (Nexmo) API secret: 16 alphanumerics assigned to a Vonage or Nexmo secret name, per Vonage's API credentials"
regex = '''(?i:(?:vonage|nexmo)[\w.-]{0,20}secret)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([A-Za-z0-9]{16})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["vonage", "nexmo"]

[[rules]]
id = "plivo-auth-token"
description = "Plivo auth token: 40 alphanumerics assigned to a Plivo name, per Plivo's API authentication"
regex = '''(?i:plivo)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([A-Za-z0-9]{40})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["plivo"]

[[rules]]
id = "pusher-app-secret"
description = "Pusher Channels app secret: 20 hex assigned to a Pusher secret name, per Pusher's app keys"
regex = '''(?i:pusher[\w.-]{0,20}secret)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([a-f0-9]{20})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["pusher"]

[[rules]]
id = "ably-api-key"
description = "Ably API key: app id . key id : 43-character secret assigned to an Ably name, per Ably's API key format"
regex = '''(?i:\bably[_-]?(?:api[_-]?)?key)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{6}:[A-Za-z0-9_-]{43})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["ably_api", "ably_key", "ablyapi", "ablykey", "ably-api", "ably-key"]

[[rules]]
id = "microsoft-teams-webhook"
description = "Microsoft Teams incoming webhook URL: webhook.office.com/webhookb2/ with its group, tenant and secret, per Microsoft Teams' incoming webhooks"
regex = '''(https://[a-z0-9-]+\.webhook\.office\.com/webhookb2/[a-f0-9-]{36}@[a-f0-9-]{36}/IncomingWebhook/[a-f0-9]{32}/[a-f0-9-]{36})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["webhookb2"]

[[rules]]
id = "mattermost-access-token"
description = "Mattermost personal access token: 26 lowercase alphanumerics assigned to a Mattermost name, per Mattermost's access tokens"
regex = '''(?i:mattermost)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([a-z0-9]{26})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["mattermost"]

[[rules]]
id = "zulip-api-key"
description = "Zulip API key: 32 alphanumerics assigned to a Zulip name, per Zulip's API keys"
regex = '''(?i:zulip)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([A-Za-z0-9]{32})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["zulip"]

[[rules]]
id = "intercom-access-token"
description = "Intercom access token: 60 base64 characters assigned to an Intercom name, per Intercom's authentication"
regex = '''(?i:intercom)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([A-Za-z0-9=_-]{60})(?:[^A-Za-z0-9=_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["intercom"]

[[rules]]
id = "facebook-access-token"
description = "Facebook / Meta page or user access token: EAA, a type letter and 100 or more alphanumerics, per Meta's access token documentation"
regex = '''\b(EAA[MCUG][A-Za-z0-9]{100,})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["eaam", "eaac", "eaau", "eaag"]

[[rules]]
id = "facebook-app-secret"
description = "Facebook / Meta app secret: 32 hex assigned to a Facebook or Meta app secret name, per Meta's app settings"
regex = '''(?i:facebook|fb_app_secret|meta_app_secret)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([a-f0-9]{32})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["facebook", "fb_app_secret", "meta_app_secret"]

[[rules]]
id = "twitter-bearer-token"
description = "X (Twitter) API bearer token: 22 A's and 80-100 URL-encoded characters assigned to a Twitter name, per X's OAuth 2.0 bearer tokens"
regex = '''(?i:twitter|\bx_bearer)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?(A{22}[A-Za-z0-9%]{80,100})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["twitter", "x_bearer"]

[[rules]]
id = "twitter-api-key"
description = "X (Twitter) API key (consumer key): 25 alphanumerics assigned to a Twitter name, per X's API key and secret"
regex = '''(?i:twitter)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([A-Za-z0-9]{25})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["twitter"]
severity = "medium"

[[rules]]
id = "twitter-api-secret"
description = "X (Twitter) API secret (consumer secret): 50 alphanumerics assigned to a Twitter name, per X's API key and secret"
regex = '''(?i:twitter)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([A-Za-z0-9]{50})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["twitter"]

[[rules]]
id = "twitter-access-token"
description = "X (Twitter) user access token: the numeric user id, - and 20-40 alphanumerics, assigned to a Twitter name, per X's OAuth 1.0a tokens"
regex = '''(?i:twitter)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([0-9]{15,25}-[A-Za-z0-9]{20,40})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["twitter"]

[[rules]]
id = "linkedin-client-secret"
description = "LinkedIn client secret: 16 alphanumerics assigned to a LinkedIn secret name, per LinkedIn's OAuth credentials"
regex = '''(?i:linked[_-]?in[\w.-]{0,20}secret)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([A-Za-z0-9]{16})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["linkedin", "linked_in", "linked-in"]

[[rules]]
id = "twitch-api-token"
description = "Twitch API token: 30 lowercase alphanumerics assigned to a Twitch name, per Twitch's authentication"
regex = '''(?i:twitch)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([a-z0-9]{30})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["twitch"]

[[rules]]
id = "zendesk-api-token"
description = "Zendesk API token: 40 alphanumerics assigned to a Zendesk name, per Zendesk's API token documentation"
regex = '''(?i:zendesk)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([A-Za-z0-9]{40})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["zendesk"]

[[rules]]
id = "freshdesk-api-key"
description = "Freshdesk API key: 20 alphanumerics assigned to a Freshdesk name, per Freshdesk's API authentication"
regex = '''(?i:freshdesk)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([A-Za-z0-9]{20})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["freshdesk"]

[[rules]]
id = "hubspot-private-app-token"
description = "HubSpot private app access token: pat-, the region (na1, eu1...) and a UUID, per HubSpot's private apps"
regex = '''\b(pat-(?:na|eu|ap)[0-9]-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["pat-na", "pat-eu", "pat-ap"]

[[rules]]
id = "hubspot-api-key"
description = "HubSpot developer API key (legacy): an uppercase UUID assigned to a HubSpot name, per HubSpot's developer API keys"
regex = '''(?i:hubspot)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["hubspot"]

[[rules]]
id = "sendbird-api-token"
description = "Sendbird API token: 40 hex assigned to a Sendbird name, per Sendbird's API authentication"
regex = '''(?i:sendbird)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([a-f0-9]{40})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["sendbird"]


# --- observability -------------------------------------------------------------------------------
[[rules]]
id = "datadog-api-key"
description = "Datadog API key: 32 hex assigned to a Datadog or DD_API_KEY name, per Datadog's API and application keys"
regex = '''(?i:datadog[\w.-]{0,10}api|\bdd_api_key)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([a-f0-9]{32})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["datadog", "dd_api_key"]
revoke = "https://app.datadoghq.com/organization-settings/api-keys"

[[rules]]
id = "datadog-app-key"
description = "Datadog application key: 40 hex assigned to a Datadog or DD_APP_KEY name, per Datadog's API and application keys"
regex = '''(?i:datadog[\w.-]{0,10}app|\bdd_app(?:lication)?_key)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([a-f0-9]{40})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["datadog", "dd_app"]
revoke = "https://app.datadoghq.com/organization-settings/application-keys"

[[rules]]
id = "new-relic-user-api-key"
description = "New Relic user API key: NRAK- and 27 uppercase alphanumerics, per New Relic's API keys"
regex = '''\b(NRAK-[A-Z0-9]{27})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["nrak-"]
revoke = "https://one.newrelic.com/api-keys"

[[rules]]
id = "new-relic-license-key"
description = "New Relic ingest license key: 36 hex and NRAL, per New Relic's API keys"
regex = '''\b([a-f0-9]{36}NRAL)(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["nral"]
revoke = "https://one.newrelic.com/api-keys"

[[rules]]
id = "new-relic-insert-key"
description = "New Relic Insights insert key: NRII- and 32 characters, per New Relic's API keys"
regex = '''\b(NRII-[A-Za-z0-9_-]{32})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["nrii-"]

[[rules]]
id = "new-relic-browser-key"
description = "New Relic browser ingest key: NRJS- and 19 hex, per New Relic's API keys"
regex = '''\b(NRJS-[a-f0-9]{19})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["nrjs-"]
severity = "low"

[[rules]]
id = "new-relic-query-key"
description = "New Relic Insights query key: NRIQ- and 32 characters, per New Relic's API keys"
regex = '''\b(NRIQ-[A-Za-z0-9_-]{32})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["nriq-"]

[[rules]]
id = "grafana-cloud-token"
description = "Grafana Cloud access policy token: glc_ and base64 of a JSON object, per Grafana Cloud's token format"
regex = '''\b(glc_eyJ[A-Za-z0-9+/]{32,400}={0,2})(?:[^A-Za-z0-9+/=]|$)'''
entropy = 3.0
validate = "base64-json"
keywords = ["glc_eyj"]

[[rules]]
id = "grafana-service-account-token"
description = "Grafana service account token: glsa_, 32 alphanumerics, _ and 8 hex, per Grafana's service account token format"
regex = '''\b(glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["glsa_"]

[[rules]]
id = "grafana-api-key"
description = "Grafana API key (legacy): base64 of a JSON object starting {\"k\":, per Grafana's API key format"
regex = '''\b(eyJrIjoi[A-Za-z0-9+/]{50,400}={0,2})(?:[^A-Za-z0-9+/=]|$)'''
entropy = 3.0
validate = "base64-json"
keywords = ["eyjrijoi"]

[[rules]]
id = "sentry-org-token"
description = "Sentry organization auth token: sntrys_, base64 of a JSON object, _ and 43 base64 characters, per Sentry's auth token format"
regex = '''\b(sntrys_eyJ[A-Za-z0-9+/]{30,400}={0,2}_[A-Za-z0-9+/]{43})(?:[^A-Za-z0-9+/=]|$)'''
entropy = 3.0
validate = "base64-json"
keywords = ["sntrys_eyj"]
revoke = "https://sentry.io/orgredirect/organizations/:orgslug/settings/auth-tokens/"

[[rules]]
id = "sentry-user-token"
description = "Sentry user auth token: sntryu_ and 64 hex, per Sentry's auth token format"
regex = '''\b(sntryu_[a-f0-9]{64})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["sntryu_"]
revoke = "https://sentry.io/settings/account/api/auth-tokens/"

[[rules]]
id = "sentry-legacy-token"
description = "Sentry auth token (legacy): 64 hex assigned to a Sentry name, per Sentry's auth tokens"
regex = '''(?i:sentry)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([a-f0-9]{64})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["sentry"]

[[rules]]
id = "honeycomb-api-key"
description = "Honeycomb API key: 22 alphanumerics, 32 hex (classic) or hc?ik_/hc?mk_ and 58 characters, assigned to a Honeycomb name, per Honeycomb's API keys"
regex = '''(?i:honeycomb)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?((?:hc[a-z][im]k_[a-z0-9]{58}|[a-f0-9]{32}|[A-Za-z0-9]{22}))(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["honeycomb"]

[[rules]]
id = "pagerduty-api-key"
description = "PagerDuty REST API key: 20 characters (u+ for user tokens) assigned to a PagerDuty name, per PagerDuty's API access keys"
regex = '''(?i:pager[_.-]?duty)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?((?:u\+)?[A-Za-z0-9_+-]{20})(?:[^A-Za-z0-9_+-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["pagerduty", "pager_duty", "pager-duty"]

[[rules]]
id = "pagerduty-integration-key"
description = "PagerDuty Events API integration (routing) key: 32 hex assigned to a PagerDuty name, per PagerDuty's Events API"
regex = '''(?i:pager[_.-]?duty)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([a-f0-9]{32})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["pagerduty", "pager_duty", "pager-duty"]

[[rules]]
id = "dynatrace-api-token"
description = "Dynatrace API token: dt0c01., a 24-character public part, . and a 64-character secret, per Dynatrace's token format"
regex = '''\b(dt0c01\.[A-Z0-9]{24}\.[A-Z0-9]{64})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["dt0c01."]

[[rules]]
id = "dynatrace-platform-token"
description = "Dynatrace platform token: dt0s16., a 24-character public part, . and a 64-character secret, per Dynatrace's token format"
regex = '''\b(dt0s\d\d\.[A-Z0-9]{24}\.[A-Z0-9]{64})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["dt0s"]

[[rules]]
id = "splunk-hec-token"
description = "Splunk HTTP Event Collector token: a UUID assigned to a Splunk name, per Splunk's HEC documentation"
regex = '''(?i:splunk)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["splunk"]

[[rules]]
id = "sumologic-access-key"
description = "Sumo Logic access key: 64 alphanumerics assigned to a Sumo name, per Sumo Logic's access keys"
regex = '''(?i:sumo)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([A-Za-z0-9]{64})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["sumo"]

[[rules]]
id = "sumologic-access-id"
description = "Sumo Logic access id: su and 12 alphanumerics assigned to a Sumo name, per Sumo Logic's access keys"
regex = '''(?i:sumo)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?(su[A-Za-z0-9]{12})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["sumo"]
severity = "medium"

[[rules]]
id = "opsgenie-api-key"
description = "Opsgenie API key: a UUID assigned to an Opsgenie name, per Opsgenie's API integration"
regex = '''(?i:opsgenie)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["opsgenie"]

[[rules]]
id = "rollbar-access-token"
description = "Rollbar access token: 32 hex assigned to a Rollbar name, per Rollbar's access tokens"
regex = '''(?i:rollbar)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([a-f0-9]{32})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["rollbar"]

[[rules]]
id = "bugsnag-api-key"
description = "Bugsnag API key: 32 hex assigned to a Bugsnag name, per Bugsnag's notifier configuration"
regex = '''(?i:bugsnag)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([a-f0-9]{32})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["bugsnag"]
severity = "low"

[[rules]]
id = "logzio-token"
description = "Logz.io shipping or API token: 32 alphanumerics (or a UUID) assigned to a Logz.io name, per Logz.io's tokens"
regex = '''(?i:logz[_.-]?io)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?((?:[A-Za-z0-9]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}))(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["logzio", "logz_io", "logz.io", "logz-io"]

[[rules]]
id = "launchdarkly-key"
description = "LaunchDarkly API access token or SDK key: api-, sdk- or mob- and a UUID, assigned to a LaunchDarkly name, per LaunchDarkly's keys"
regex = '''(?i:launch[_.-]?darkly)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?((?:api|sdk|mob)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["launchdarkly", "launch_darkly", "launch-darkly"]

[[rules]]
id = "elastic-api-key"
description = "Elasticsearch / Elastic Cloud API key: base64 of id:secret (60 or more characters) assigned to an Elastic API key name, per Elastic's API keys"
regex = '''(?i:elastic[\w.-]{0,20}api[_.-]?key)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([A-Za-z0-9+/]{60,100}={0,2})(?:[^A-Za-z0-9+/=]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["elastic"]


# --- data platforms ------------------------------------------------------------------------------
[[rules]]
id = "databricks-token"
description = "Databricks personal access token: dapi and 32 hex, with an optional -N suffix, per Databricks' token format"
regex = '''\b(dapi[a-f0-9]{32}(?:-\d)?)(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["dapi"]

[[rules]]
id = "snowflake-password"
description = "Snowflake account password assigned to a Snowflake password name, per Snowflake's connector configuration"
regex = '''(?i:snowflake[\w.-]{0,20}(?:password|pwd))[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([^\s'\"`]{8,128})(?:['\"`\s]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["snowflake"]

[[rules]]
id = "mongodb-atlas-private-key"
description = "MongoDB Atlas API private key: a UUID assigned to an Atlas private key name, per MongoDB Atlas' programmatic API keys"
regex = '''(?i:(?:atlas|mongodb)[\w.-]{0,20}private)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["atlas", "mongodb"]
severity = "critical"

[[rules]]
id = "mongodb-atlas-service-account-secret"
description = "MongoDB Atlas service account secret: mdb_sa_sk_ and 40 characters, per MongoDB Atlas' service accounts"
regex = '''\b(mdb_sa_sk_[A-Za-z0-9_-]{40})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["mdb_sa_sk_"]

[[rules]]
id = "planetscale-service-token"
description = "PlanetScale service token: pscale_tkn_ and 32-64 characters, per PlanetScale's credential format"
regex = '''\b(pscale_tkn_[A-Za-z0-9_=.-]{32,64})(?:[^A-Za-z0-9_=.-]|$)'''
entropy = 3.0
keywords = ["pscale_tkn_"]

[[rules]]
id = "planetscale-oauth-token"
description = "PlanetScale OAuth token: pscale_oauth_ and 32-64 characters, per PlanetScale's credential format"
regex = '''\b(pscale_oauth_[A-Za-z0-9_=.-]{32,64})(?:[^A-Za-z0-9_=.-]|$)'''
entropy = 3.0
keywords = ["pscale_oauth_"]

[[rules]]
id = "planetscale-password"
description = "PlanetScale database password: pscale_pw_ and 32-64 characters, per PlanetScale's credential format"
regex = '''\b(pscale_pw_[A-Za-z0-9_=.-]{32,64})(?:[^A-Za-z0-9_=.-]|$)'''
entropy = 3.0
keywords = ["pscale_pw_"]

[[rules]]
id = "supabase-access-token"
description = "Supabase personal access token: sbp_ and 40 hex, per Supabase's management API tokens"
regex = '''\b(sbp_[a-f0-9]{40})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["sbp_"]
revoke = "https://supabase.com/dashboard/account/tokens"

[[rules]]
id = "supabase-secret-key"
description = "Supabase secret API key: sb_secret_ and 31-64 characters, per Supabase's API keys"
regex = '''\b(sb_secret_[A-Za-z0-9_-]{31,64})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["sb_secret_"]

[[rules]]
id = "supabase-service-role-key"
description = "Supabase service role key: a JWT assigned to a Supabase service role name, per Supabase's API keys"
regex = '''(?i:supabase[\w.-]{0,20}(?:service|secret))[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?(eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{20,})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
validate = "jwt"
keywords = ["supabase"]

[[rules]]
id = "firebase-cloud-messaging-key"
description = "Firebase Cloud Messaging legacy server key: AAAA, 7 characters, :APA91b and 134 characters, per Firebase's server key format"
regex = '''\b(AAAA[A-Za-z0-9_-]{7}:APA91b[A-Za-z0-9_-]{134})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["apa91b"]

[[rules]]
id = "firebase-database-secret"
description = "Firebase Realtime Database secret (legacy): 40 alphanumerics assigned to a Firebase secret name, per Firebase's database secrets"
regex = '''(?i:firebase[\w.-]{0,20}(?:secret|token))[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([A-Za-z0-9]{40})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["firebase"]

[[rules]]
id = "neon-api-key"
description = "Neon API key: napi_ and 64 lowercase alphanumerics, per Neon's API keys"
regex = '''\b(napi_[a-z0-9]{64})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["napi_"]

[[rules]]
id = "confluent-api-secret"
description = "Confluent Cloud API secret: 64 base64 characters assigned to a Confluent name, per Confluent Cloud's API keys"
regex = '''(?i:confluent)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([A-Za-z0-9+/]{64})(?:[^A-Za-z0-9+/=]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["confluent"]

[[rules]]
id = "algolia-admin-key"
description = "Algolia admin or write API key: 32 hex assigned to an Algolia key name, per Algolia's API keys"
regex = '''(?i:algolia)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([a-f0-9]{32})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["algolia"]

[[rules]]
id = "clickhouse-cloud-key"
description = "ClickHouse Cloud API key secret: 4b1d and 38 alphanumerics, per ClickHouse Cloud's API key format"
regex = '''\b(4b1d[A-Za-z0-9]{38})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["4b1d"]

[[rules]]
id = "redis-cloud-api-key"
description = "Redis Cloud API key or secret: 40-60 alphanumerics assigned to a Redis Cloud name, per Redis Cloud's API keys"
regex = '''(?i:redis[_.-]?cloud)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([A-Za-z0-9]{40,60})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["rediscloud", "redis_cloud", "redis-cloud", "redis.cloud"]

[[rules]]
id = "upstash-token"
description = "Upstash REST token: 40 or more base64url characters assigned to an Upstash name, per Upstash's REST API"
regex = '''(?i:upstash)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([A-Za-z0-9_=-]{40,120})(?:[^A-Za-z0-9_=-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["upstash"]

[[rules]]
id = "influxdb-token"
description = "InfluxDB API token: 86 base64url characters and ==, assigned to an Influx name, per InfluxDB's API tokens"
regex = '''(?i:influx)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([A-Za-z0-9_-]{86}==)(?:[^A-Za-z0-9_=-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["influx"]

[[rules]]
id = "airtable-api-key"
description = "Airtable personal access token: pat, 14 alphanumerics, . and 64 hex, assigned to an Airtable name, per Airtable's token format"
regex = '''(?i:airtable)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?(pat[A-Za-z0-9]{14}\.[a-f0-9]{64})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["airtable"]
revoke = "https://airtable.com/create/tokens"


)toml";

constexpr std::string_view kPart2 =
    R"toml(# --- secret managers and identity ----------------------------------------------------------------
[[rules]]
id = "vault-service-token"
description = "HashiCorp Vault service token: hvs. and 90-120 characters, per Vault's token prefixes"
regex = '''\b(hvs\.[A-Za-z0-9_-]{90,120})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["hvs."]

[[rules]]
id = "vault-batch-token"
description = "HashiCorp Vault batch token: hvb. and 138-300 characters, per Vault's token prefixes"
regex = '''\b(hvb\.[A-Za-z0-9_-]{138,300})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["hvb."]

[[rules]]
id = "vault-legacy-token"
description = "HashiCorp Vault token (before 1.10): s. and 24 alphanumerics, assigned to a Vault name, per Vault's token format"
regex = '''(?i:vault)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?(s\.[A-Za-z0-9]{24})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["vault"]

[[rules]]
id = "doppler-personal-token"
description = "Doppler personal token: dp.pt. and 40-44 alphanumerics, per Doppler's token prefixes"
regex = '''\b(dp\.pt\.[A-Za-z0-9]{40,44})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["dp.pt."]

[[rules]]
id = "doppler-service-token"
description = "Doppler service token: dp.st. and 40-44 alphanumerics, per Doppler's token prefixes"
regex = '''\b(dp\.st\.(?:[a-z0-9_-]{2,35}\.)?[A-Za-z0-9]{40,44})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["dp.st."]

[[rules]]
id = "doppler-cli-token"
description = "Doppler CLI token: dp.ct. and 40-44 alphanumerics, per Doppler's token prefixes"
regex = '''\b(dp\.ct\.[A-Za-z0-9]{40,44})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["dp.ct."]

[[rules]]
id = "doppler-service-account-token"
description = "Doppler service account token: dp.sa. and 40-44 alphanumerics, per Doppler's token prefixes"
regex = '''\b(dp\.sa\.[A-Za-z0-9]{40,44})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["dp.sa."]

[[rules]]
id = "doppler-scim-token"
description = "Doppler SCIM token: dp.scim. and 40-44 alphanumerics, per Doppler's token prefixes"
regex = '''\b(dp\.scim\.[A-Za-z0-9]{40,44})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["dp.scim."]

[[rules]]
id = "doppler-audit-token"
description = "Doppler audit token: dp.audit. and 40-44 alphanumerics, per Doppler's token prefixes"
regex = '''\b(dp\.audit\.[A-Za-z0-9]{40,44})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["dp.audit."]

[[rules]]
id = "1password-secret-key"
description = "1Password account Secret Key: A3-, the account id and groups of 5 characters, per 1Password's Secret Key format"
regex = '''\b(A3-[A-Z0-9]{6}-(?:[A-Z0-9]{11}|[A-Z0-9]{6}-[A-Z0-9]{5})-[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["a3-"]

[[rules]]
id = "1password-service-account-token"
description = "1Password service account token: ops_ and base64 of a JSON object, per 1Password's service account tokens"
regex = '''\b(ops_eyJ[A-Za-z0-9+/_-]{250,}={0,3})(?:[^A-Za-z0-9+/=_-]|$)'''
entropy = 3.0
validate = "base64-json"
keywords = ["ops_eyj"]

[[rules]]
id = "age-secret-key"
description = "age X25519 identity: AGE-SECRET-KEY-1 and 58 bech32 characters with a valid bech32 checksum, per the age specification"
regex = '''\b(AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
validate = "age-bech32"
keywords = ["age-secret-key-1"]
severity = "critical"

[[rules]]
id = "okta-api-token"
description = "Okta API token: 00 and 40 base64url characters assigned to an Okta name, per Okta's API tokens"
regex = '''(?i:okta)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?(00[A-Za-z0-9_-]{40})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.5
keywords = ["okta"]

[[rules]]
id = "auth0-client-secret"
description = "Auth0 application client secret: 64 base64url characters assigned to an Auth0 name, per Auth0's application credentials"
regex = '''(?i:auth0)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([A-Za-z0-9_-]{64})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["auth0"]

[[rules]]
id = "auth0-management-token"
description = "Auth0 Management API token: a JWT assigned to an Auth0 name, per Auth0's Management API tokens"
regex = '''(?i:auth0)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?(eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{20,})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
validate = "jwt"
keywords = ["auth0"]

[[rules]]
id = "clerk-secret-key"
description = "Clerk secret key: sk_live_ and 40-50 alphanumerics assigned to a Clerk name, per Clerk's API keys"
regex = '''(?i:clerk)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?(sk_(?:live|test)_[A-Za-z0-9]{40,50})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["clerk"]

[[rules]]
id = "infisical-token"
description = "Infisical service token: st., a UUID-like id and two hex parts, per Infisical's service tokens"
regex = '''(?i:infisical)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?(st\.[a-f0-9-]{36}\.[a-f0-9]{32}\.[a-f0-9]{32})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["infisical"]

[[rules]]
id = "keycloak-client-secret"
description = "Keycloak client secret: 32 alphanumerics assigned to a Keycloak secret name, per Keycloak's client credentials"
regex = '''(?i:keycloak[\w.-]{0,20}secret)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([A-Za-z0-9]{32})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["keycloak"]


# --- productivity --------------------------------------------------------------------------------
[[rules]]
id = "atlassian-api-token"
description = "Atlassian API token (Jira, Confluence): ATATT3 and 186 characters, per Atlassian's API token format"
regex = '''\b(ATATT3[A-Za-z0-9_=-]{186})(?:[^A-Za-z0-9_=-]|$)'''
entropy = 3.0
keywords = ["atatt3"]
revoke = "https://id.atlassian.com/manage-profile/security/api-tokens"

[[rules]]
id = "atlassian-legacy-token"
description = "Atlassian API token (before 2023): 24 alphanumerics assigned to a Jira, Confluence or Atlassian name, per Atlassian's API tokens"
regex = '''(?i:atlassian|jira|confluence)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([A-Za-z0-9]{24})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["atlassian", "jira", "confluence"]
revoke = "https://id.atlassian.com/manage-profile/security/api-tokens"

[[rules]]
id = "linear-api-key"
description = "Linear personal API key: lin_api_ and 40 alphanumerics, per Linear's API authentication"
regex = '''\b(lin_api_[A-Za-z0-9]{40})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["lin_api_"]
revoke = "https://linear.app/settings/account/security"

[[rules]]
id = "linear-oauth-token"
description = "Linear OAuth access token: lin_oauth_ and 64 hex, per Linear's OAuth tokens"
regex = '''\b(lin_oauth_[a-f0-9]{64})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["lin_oauth_"]

[[rules]]
id = "linear-client-secret"
description = "Linear OAuth client secret: 32 hex assigned to a Linear name, per Linear's OAuth applications"
regex = '''(?i:linear[_.-](?:client[_.-])?secret)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([a-f0-9]{32})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["linear_client_secret", "linear_secret", "linear-client-secret", "linear-secret", "linear.client.secret", "linear.secret"]

[[rules]]
id = "notion-integration-token"
description = "Notion integration token: ntn_, 11 digits and 35 alphanumerics, per Notion's internal integration tokens"
regex = '''\b(ntn_[0-9]{11}[A-Za-z0-9]{35})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["ntn_"]
revoke = "https://www.notion.so/profile/integrations"

[[rules]]
id = "notion-legacy-token"
description = "Notion integration token (before 2024): secret_ and 43 alphanumerics, per Notion's internal integration tokens"
regex = '''\b(secret_[A-Za-z0-9]{43})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["secret_"]
# Names such as secret_key or secret_manager are common in code; only a token's shape is searched.
prefilter = '''secret_[a-z0-9]{43}'''
revoke = "https://www.notion.so/profile/integrations"

[[rules]]
id = "asana-personal-access-token"
description = "Asana personal access token: 1/ or 2/, numeric ids, : and 32 hex, assigned to an Asana name, per Asana's personal access tokens"
regex = '''(?i:asana)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([12]/[0-9]{13,16}(?:/[0-9]{13,16})?:[a-f0-9]{32})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["asana"]

[[rules]]
id = "figma-pat"
description = "Figma personal access token: figd_ and 40 base64url characters, per Figma's access tokens"
regex = '''\b(figd_[A-Za-z0-9_-]{40})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["figd_"]
revoke = "https://www.figma.com/settings"

[[rules]]
id = "trello-api-token"
description = "Trello API token: 64 hex (or ATTA and 64 characters) assigned to a Trello name, per Trello's API authorization"
regex = '''(?i:trello)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?((?:ATTA[A-Za-z0-9]{60,70}|[a-f0-9]{64}))(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["trello"]

[[rules]]
id = "clickup-api-token"
description = "ClickUp personal API token: pk_, the user id, _ and 32 uppercase alphanumerics, assigned to a ClickUp name, per ClickUp's API tokens"
regex = '''(?i:click[_.-]?up)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?(pk_[0-9]{6,10}_[A-Z0-9]{32})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["clickup", "click_up", "click-up"]

[[rules]]
id = "todoist-api-token"
description = "Todoist API token: 40 hex assigned to a Todoist name, per Todoist's API authorization"
regex = '''(?i:todoist)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([a-f0-9]{40})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["todoist"]

[[rules]]
id = "dropbox-access-token"
description = "Dropbox access token: sl. (or sl.u.) and 130 or more base64url characters, assigned to a Dropbox name, per Dropbox's OAuth tokens"
regex = '''(?i:dropbox)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?(sl\.(?:u\.)?[A-Za-z0-9_-]{130,})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["dropbox"]

[[rules]]
id = "box-client-secret"
description = "Box application client secret: 32 alphanumerics assigned to a Box secret name, per Box's application credentials"
regex = '''(?i:box[_.-]?client[_.-]?secret)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([A-Za-z0-9]{32})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["box_client_secret", "box-client-secret", "box.client.secret", "boxclientsecret"]

[[rules]]
id = "typeform-api-token"
description = "Typeform personal access token: tfp_ and 59 characters, per Typeform's personal tokens"
regex = '''\b(tfp_[A-Za-z0-9_.=-]{59})(?:[^A-Za-z0-9_.=-]|$)'''
entropy = 3.0
keywords = ["tfp_"]

[[rules]]
id = "contentful-token"
description = "Contentful delivery or management token: 43 base64url characters (or CFPAT- and 43) assigned to a Contentful name, per Contentful's API tokens"
regex = '''(?i:contentful)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?((?:CFPAT-)?[A-Za-z0-9_-]{43})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["contentful"]

[[rules]]
id = "mapbox-secret-token"
description = "Mapbox secret access token: sk. and base64url of a JSON object, . and a signature, per Mapbox's access tokens"
regex = '''\b(sk\.eyJ[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{20,})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
validate = "base64-json"
keywords = ["sk.eyj"]

[[rules]]
id = "cloudinary-url"
description = "Cloudinary URL: cloudinary://, the numeric API key, : the API secret and @ the cloud name, per Cloudinary's CLOUDINARY_URL"
regex = '''cloudinary://[0-9]{15}\x3a([A-Za-z0-9_-]{27})@[a-z0-9_-]+'''
secretGroup = 1
entropy = 3.0
keywords = ["cloudinary://"]

[[rules]]
id = "segment-write-key"
description = "Segment write key or public API token: 32 alphanumerics assigned to a Segment name, per Segment's source settings"
regex = '''(?i:segment_?(?:write_?key|api_?(?:key|token)|token))[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([A-Za-z0-9]{32})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["segment_write", "segmentwrite", "segment_api", "segmentapi", "segment_token", "segmenttoken"]

[[rules]]
id = "frameio-api-token"
description = "Frame.io developer token: fio-u- and 64 characters, per Frame.io's developer tokens"
regex = '''\b(fio-u-[A-Za-z0-9_=-]{64})(?:[^A-Za-z0-9_=-]|$)'''
entropy = 3.0
keywords = ["fio-u-"]

[[rules]]
id = "maxmind-license-key"
description = "MaxMind license key: 6 alphanumerics, _, 29 alphanumerics and _mmk, per MaxMind's license key format"
regex = '''\b([A-Za-z0-9]{6}_[A-Za-z0-9]{29}_mmk)(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
keywords = ["_mmk"]

[[rules]]
id = "zoom-client-secret"
description = "Zoom app client secret: 32 alphanumerics assigned to a Zoom secret name, per Zoom's app credentials"
regex = '''(?i:zoom[\w.-]{0,20}secret)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([A-Za-z0-9]{32})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["zoom"]

[[rules]]
id = "calendly-token"
description = "Calendly personal access token: a JWT assigned to a Calendly name, per Calendly's API authentication"
regex = '''(?i:calendly)[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?(eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{20,})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
validate = "jwt"
keywords = ["calendly"]

[[rules]]
id = "monday-api-token"
description = "monday.com API token: a JWT assigned to a monday name, per monday.com's API authentication"
regex = '''(?i:monday[_.-]?(?:api|token))[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?(eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{20,})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
validate = "jwt"
keywords = ["monday_api", "monday_token", "mondayapi", "mondaytoken", "monday-api", "monday-token", "monday.api", "monday.token"]

[[rules]]
id = "miro-access-token"
description = "Miro access token: eyJ-prefixed or 27-32 character token assigned to a Miro name, per Miro's REST API authentication"
regex = '''(?i:\bmiro[_.-])[\w.-]{0,25}["']?\s{0,3}(?::=|=>|=|:)\s{0,3}["'`]?([A-Za-z0-9_-]{27,32})(?:[^A-Za-z0-9_-]|$)'''
secretGroup = 1
entropy = 3.0
keywords = ["miro_", "miro.", "miro-"]


# --- tokens, keys and files ----------------------------------------------------------------------
[[rules]]
id = "jwt"
description = "JSON Web Token: three base64url parts, the first a JSON header naming its algorithm, per RFC 7519 and RFC 7515"
regex = '''\b(eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{20,})(?:[^A-Za-z0-9_-]|$)'''
entropy = 3.0
validate = "jwt"
keywords = ["eyj"]
severity = "medium"

[[rules]]
id = "private-key-rsa"
description = "RSA private key (PKCS#1) in PEM armour, from its BEGIN line to its END line, per RFC 7468 (RFC 4880 for OpenPGP)"
regex = '''(?s)(-----BEGIN[ ]RSA PRIVATE KEY-----[A-Za-z0-9+/=\s:,.\\-]{64,}?-----END RSA PRIVATE KEY-----)'''
keywords = ["rsa private key"]
severity = "critical"

[[rules]]
id = "private-key-dsa"
description = "DSA private key in PEM armour, from its BEGIN line to its END line, per RFC 7468 (RFC 4880 for OpenPGP)"
regex = '''(?s)(-----BEGIN[ ]DSA PRIVATE KEY-----[A-Za-z0-9+/=\s:,.\\-]{64,}?-----END DSA PRIVATE KEY-----)'''
keywords = ["dsa private key"]
severity = "critical"

[[rules]]
id = "private-key-ec"
description = "EC private key (SEC 1) in PEM armour, from its BEGIN line to its END line, per RFC 7468 (RFC 4880 for OpenPGP)"
regex = '''(?s)(-----BEGIN[ ]EC PRIVATE KEY-----[A-Za-z0-9+/=\s:,.\\-]{64,}?-----END EC PRIVATE KEY-----)'''
keywords = ["ec private key"]
severity = "critical"

[[rules]]
id = "private-key-openssh"
description = "OpenSSH private key in PEM armour, from its BEGIN line to its END line, per RFC 7468 (RFC 4880 for OpenPGP)"
regex = '''(?s)(-----BEGIN[ ]OPENSSH PRIVATE KEY-----[A-Za-z0-9+/=\s:,.\\-]{64,}?-----END OPENSSH PRIVATE KEY-----)'''
keywords = ["openssh private key"]
severity = "critical"

[[rules]]
id = "private-key-pkcs8"
description = "PKCS#8 private key in PEM armour, from its BEGIN line to its END line, per RFC 7468 (RFC 4880 for OpenPGP)"
regex = '''(?s)(-----BEGIN[ ]PRIVATE KEY-----[A-Za-z0-9+/=\s:,.\\-]{64,}?-----END PRIVATE KEY-----)'''
keywords = ["private key"]
severity = "critical"

[[rules]]
id = "private-key-pkcs8-encrypted"
description = "encrypted PKCS#8 private key in PEM armour, from its BEGIN line to its END line, per RFC 7468 (RFC 4880 for OpenPGP)"
regex = '''(?s)(-----BEGIN[ ]ENCRYPTED PRIVATE KEY-----[A-Za-z0-9+/=\s:,.\\-]{64,}?-----END ENCRYPTED PRIVATE KEY-----)'''
keywords = ["encrypted private key"]
severity = "critical"

[[rules]]
id = "private-key-pgp"
description = "OpenPGP private key block in PEM armour, from its BEGIN line to its END line, per RFC 7468 (RFC 4880 for OpenPGP)"
regex = '''(?s)(-----BEGIN[ ]PGP PRIVATE KEY BLOCK-----[A-Za-z0-9+/=\s:,.\\-]{64,}?-----END PGP PRIVATE KEY BLOCK-----)'''
keywords = ["pgp private key block"]
severity = "critical"

[[rules]]
id = "generic-private-key"
description = "Private key of another kind in PEM armour (any other kind named in its BEGIN and END lines), per RFC 7468"
regex = '''(?s)(-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----[A-Za-z0-9+/=\s:,.\\-]{64,}?-----END[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----)'''
keywords = ["private key"]
severity = "critical"

[[rules]]
id = "private-key-ssh2"
description = "SSH2 (RFC 4716 / SECSH) private key: the SSH2 key file armour and its body, per RFC 4716's key file format"
regex = '''(?s)(---- BEGIN[ ]SSH2 ENCRYPTED PRIVATE KEY ----[A-Za-z0-9+/=\s:,.\\\"-]{64,}?---- END SSH2 ENCRYPTED PRIVATE KEY ----)'''
keywords = ["begin ssh2 encrypted private key"]
severity = "critical"

[[rules]]
id = "private-key-putty"
description = "PuTTY private key file: PuTTY-User-Key-File-2 or -3 header and its Private-Lines, per PuTTY's PPK format"
regex = '''(PuTTY-User-Key-File-[23]: [\s\S]{20,1000}?Private-Lines: \d+\s+[A-Za-z0-9+/=\s]{40,})'''
keywords = ["putty-user-key-file-"]
severity = "critical"

[[rules]]
id = "openvpn-static-key"
description = "OpenVPN static key (tls-auth / tls-crypt): -----BEGIN OpenVPN Static key V1----- and 16 lines of hex, per OpenVPN's static key format"
regex = '''(-----BEGIN OpenVPN Static key V1-----(?:\s|\\n)+(?:[0-9a-f]{32}(?:\s|\\n)+){16}-----END OpenVPN Static key V1-----)'''
keywords = ["openvpn static key"]
severity = "critical"

[[rules]]
id = "wireguard-private-key"
description = "WireGuard private key: PrivateKey = and 43 base64 characters and =, per wg(8)'s configuration format"
regex = '''(?i:PrivateKey)\s{0,3}=\s{0,3}([A-Za-z0-9+/]{42}[AEIMQUYcgkosw480]=)'''
secretGroup = 1
entropy = 3.5
keywords = ["privatekey"]
severity = "critical"

[[rules]]
id = "pkcs12-file"
description = "PKCS#12 keystore file (.p12, .pfx): a bundle that usually holds private keys, per RFC 7292"
path = '''(?i)(?:^|/)[^/]+\.(?:p12|pfx)$'''
severity = "medium"

[[rules]]
id = "java-keystore-file"
description = "Java keystore file (.jks, .keystore): a store that usually holds private keys, per the JDK's keytool documentation"
path = '''(?i)(?:^|/)[^/]+\.(?:jks|keystore)$'''
severity = "medium"

[[rules]]
id = "htpasswd-hash"
description = "Password hash in an htpasswd file: user: and an apr1, bcrypt or SHA hash, per Apache's htpasswd formats"
path = '''(?i)(?:^|/)\.?htpasswd$'''
regex = '''(?m)^[A-Za-z0-9._@-]{1,64}:(\$(?:apr1|2[aby])\$[./A-Za-z0-9$]{20,}|\{SHA\}[A-Za-z0-9+/]{27}=)'''
secretGroup = 1
entropy = 3.0
keywords = ["$apr1$", "$2y$", "$2a$", "$2b$", "{sha}"]
severity = "medium"


# --- connection strings --------------------------------------------------------------------------
[[rules]]
id = "postgres-connection-string"
description = "PostgreSQL (and CockroachDB, Neon, Supabase) URL with a password, per libpq's connection URIs"
regex = '''(?i:\b(?:postgres(?:ql)?))://[^\s:@/'\"`]{1,100}:([^\s:@/'\"`]{3,200})@[^\s'\"`<>]+'''
secretGroup = 1
keywords = ["postgres://", "postgresql://"]
severity = "high"
[[rules.allowlists]]
description = "placeholders and templated passwords"
regexes = ['''(?i)^(?:password|passwd|pass|pwd|secret|changeme|example|x{3,}|\*+|<[^>]*>|\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|%[A-Za-z_]+%|\{\{.*\}\}|\{[A-Za-z0-9_:.]*\}|%s)$''']

[[rules]]
id = "mysql-connection-string"
description = "MySQL / MariaDB URL with a password, per MySQL Connector's URI syntax"
regex = '''(?i:\b(?:mysql(?:x)?|mariadb))://[^\s:@/'\"`]{1,100}:([^\s:@/'\"`]{3,200})@[^\s'\"`<>]+'''
secretGroup = 1
keywords = ["mysql://", "mysqlx://", "mariadb://"]
severity = "high"
[[rules.allowlists]]
description = "placeholders and templated passwords"
regexes = ['''(?i)^(?:password|passwd|pass|pwd|secret|changeme|example|x{3,}|\*+|<[^>]*>|\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|%[A-Za-z_]+%|\{\{.*\}\}|\{[A-Za-z0-9_:.]*\}|%s)$''']

[[rules]]
id = "mongodb-connection-string"
description = "MongoDB URL (mongodb:// or mongodb+srv://) with a password, per MongoDB's connection string format"
regex = '''(?i:\b(?:mongodb(?:\+srv)?))://[^\s:@/'\"`]{1,100}:([^\s:@/'\"`]{3,200})@[^\s'\"`<>]+'''
secretGroup = 1
keywords = ["mongodb://", "mongodb+srv://"]
severity = "high"
[[rules.allowlists]]
description = "placeholders and templated passwords"
regexes = ['''(?i)^(?:password|passwd|pass|pwd|secret|changeme|example|x{3,}|\*+|<[^>]*>|\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|%[A-Za-z_]+%|\{\{.*\}\}|\{[A-Za-z0-9_:.]*\}|%s)$''']

[[rules]]
id = "redis-connection-string"
description = "Redis / Valkey URL with a password, per the redis:// URI scheme (IANA)"
regex = '''(?i:\b(?:rediss?|valkeys?))://[^\s:@/'\"`]{1,100}:([^\s:@/'\"`]{3,200})@[^\s'\"`<>]+'''
secretGroup = 1
keywords = ["redis://", "rediss://", "valkey://", "valkeys://"]
severity = "high"
[[rules.allowlists]]
description = "placeholders and templated passwords"
regexes = ['''(?i)^(?:password|passwd|pass|pwd|secret|changeme|example|x{3,}|\*+|<[^>]*>|\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|%[A-Za-z_]+%|\{\{.*\}\}|\{[A-Za-z0-9_:.]*\}|%s)$''']

[[rules]]
id = "amqp-connection-string"
description = "RabbitMQ / AMQP broker URL with a password, per RabbitMQ's URI specification"
regex = '''(?i:\b(?:amqps?))://[^\s:@/'\"`]{1,100}:([^\s:@/'\"`]{3,200})@[^\s'\"`<>]+'''
secretGroup = 1
keywords = ["amqp://", "amqps://"]
severity = "high"
[[rules.allowlists]]
description = "placeholders and templated passwords"
regexes = ['''(?i)^(?:password|passwd|pass|pwd|secret|changeme|example|x{3,}|\*+|<[^>]*>|\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|%[A-Za-z_]+%|\{\{.*\}\}|\{[A-Za-z0-9_:.]*\}|%s)$''']

[[rules]]
id = "sqlserver-url-connection-string"
description = "SQL Server URL (mssql:// or sqlserver://) with a password, per the drivers' URL formats"
regex = '''(?i:\b(?:mssql|sqlserver))://[^\s:@/'\"`]{1,100}:([^\s:@/'\"`]{3,200})@[^\s'\"`<>]+'''
secretGroup = 1
keywords = ["mssql://", "sqlserver://"]
severity = "high"
[[rules.allowlists]]
description = "placeholders and templated passwords"
regexes = ['''(?i)^(?:password|passwd|pass|pwd|secret|changeme|example|x{3,}|\*+|<[^>]*>|\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|%[A-Za-z_]+%|\{\{.*\}\}|\{[A-Za-z0-9_:.]*\}|%s)$''']

[[rules]]
id = "jdbc-connection-string"
description = "JDBC URL with user:password, per the JDBC drivers' URL formats"
regex = '''(?i:\b(?:jdbc:[a-z0-9]+))://[^\s:@/'\"`]{1,100}:([^\s:@/'\"`]{3,200})@[^\s'\"`<>]+'''
secretGroup = 1
keywords = ["jdbc:"]
severity = "high"
[[rules.allowlists]]
description = "placeholders and templated passwords"
regexes = ['''(?i)^(?:password|passwd|pass|pwd|secret|changeme|example|x{3,}|\*+|<[^>]*>|\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|%[A-Za-z_]+%|\{\{.*\}\}|\{[A-Za-z0-9_:.]*\}|%s)$''']

[[rules]]
id = "clickhouse-connection-string"
description = "ClickHouse URL with a password, per ClickHouse's client connection strings"
regex = '''(?i:\b(?:clickhouse(?:\+[a-z]+)?))://[^\s:@/'\"`]{1,100}:([^\s:@/'\"`]{3,200})@[^\s'\"`<>]+'''
secretGroup = 1
keywords = ["clickhouse://", "clickhouse+"]
severity = "high"
[[rules.allowlists]]
description = "placeholders and templated passwords"
regexes = ['''(?i)^(?:password|passwd|pass|pwd|secret|changeme|example|x{3,}|\*+|<[^>]*>|\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|%[A-Za-z_]+%|\{\{.*\}\}|\{[A-Za-z0-9_:.]*\}|%s)$''']

[[rules]]
id = "snowflake-connection-string"
description = "Snowflake URL with a password, per Snowflake's SQLAlchemy and Go driver connection strings"
regex = '''(?i:\b(?:snowflake))://[^\s:@/'\"`]{1,100}:([^\s:@/'\"`]{3,200})@[^\s'\"`<>]+'''
secretGroup = 1
keywords = ["snowflake://"]
severity = "high"
[[rules.allowlists]]
description = "placeholders and templated passwords"
regexes = ['''(?i)^(?:password|passwd|pass|pwd|secret|changeme|example|x{3,}|\*+|<[^>]*>|\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|%[A-Za-z_]+%|\{\{.*\}\}|\{[A-Za-z0-9_:.]*\}|%s)$''']

[[rules]]
id = "neo4j-connection-string"
description = "Neo4j / Bolt URL with a password, per Neo4j's driver connection URIs"
regex = '''(?i:\b(?:neo4j(?:\+s{1,2}c?)?|bolt(?:\+s{1,2}c?)?))://[^\s:@/'\"`]{1,100}:([^\s:@/'\"`]{3,200})@[^\s'\"`<>]+'''
secretGroup = 1
keywords = ["neo4j://", "neo4j+", "bolt://", "bolt+"]
severity = "high"
[[rules.allowlists]]
description = "placeholders and templated passwords"
regexes = ['''(?i)^(?:password|passwd|pass|pwd|secret|changeme|example|x{3,}|\*+|<[^>]*>|\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|%[A-Za-z_]+%|\{\{.*\}\}|\{[A-Za-z0-9_:.]*\}|%s)$''']

[[rules]]
id = "nats-connection-string"
description = "NATS URL with a password, per NATS' connection URLs"
regex = '''(?i:\b(?:nats|tls))://[^\s:@/'\"`]{1,100}:([^\s:@/'\"`]{3,200})@[^\s'\"`<>]+'''
secretGroup = 1
keywords = ["nats://", "tls://"]
severity = "high"
[[rules.allowlists]]
description = "placeholders and templated passwords"
regexes = ['''(?i)^(?:password|passwd|pass|pwd|secret|changeme|example|x{3,}|\*+|<[^>]*>|\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|%[A-Za-z_]+%|\{\{.*\}\}|\{[A-Za-z0-9_:.]*\}|%s)$''']

[[rules]]
id = "mqtt-connection-string"
description = "MQTT broker URL with a password, per the mqtt:// URI scheme"
regex = '''(?i:\b(?:mqtts?|wss?))://[^\s:@/'\"`]{1,100}:([^\s:@/'\"`]{3,200})@[^\s'\"`<>]+'''
secretGroup = 1
keywords = ["mqtt://", "mqtts://", "ws://", "wss://"]
severity = "high"
[[rules.allowlists]]
description = "placeholders and templated passwords"
regexes = ['''(?i)^(?:password|passwd|pass|pwd|secret|changeme|example|x{3,}|\*+|<[^>]*>|\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|%[A-Za-z_]+%|\{\{.*\}\}|\{[A-Za-z0-9_:.]*\}|%s)$''']

[[rules]]
id = "kafka-connection-string"
description = "Kafka URL with a password (kafka:// or kafka+ssl://), per the Kafka clients' bootstrap URL forms"
regex = '''(?i:\b(?:kafka(?:\+[a-z]+)?))://[^\s:@/'\"`]{1,100}:([^\s:@/'\"`]{3,200})@[^\s'\"`<>]+'''
secretGroup = 1
keywords = ["kafka://", "kafka+"]
severity = "high"
[[rules.allowlists]]
description = "placeholders and templated passwords"
regexes = ['''(?i)^(?:password|passwd|pass|pwd|secret|changeme|example|x{3,}|\*+|<[^>]*>|\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|%[A-Za-z_]+%|\{\{.*\}\}|\{[A-Za-z0-9_:.]*\}|%s)$''']

[[rules]]
id = "ldap-connection-string"
description = "LDAP URL with a bind password, per RFC 4516"
regex = '''(?i:\b(?:ldaps?))://[^\s:@/'\"`]{1,100}:([^\s:@/'\"`]{3,200})@[^\s'\"`<>]+'''
secretGroup = 1
keywords = ["ldap://", "ldaps://"]
severity = "high"
[[rules.allowlists]]
description = "placeholders and templated passwords"
regexes = ['''(?i)^(?:password|passwd|pass|pwd|secret|changeme|example|x{3,}|\*+|<[^>]*>|\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|%[A-Za-z_]+%|\{\{.*\}\}|\{[A-Za-z0-9_:.]*\}|%s)$''']

[[rules]]
id = "smtp-connection-string"
description = "SMTP / IMAP / POP3 URL with a password, per the mail URL schemes"
regex = '''(?i:\b(?:smtps?|imaps?|pop3s?|submission))://[^\s:@/'\"`]{1,100}:([^\s:@/'\"`]{3,200})@[^\s'\"`<>]+'''
secretGroup = 1
keywords = ["smtp://", "smtps://", "imap://", "imaps://", "pop3://", "pop3s://", "submission://"]
severity = "high"
[[rules.allowlists]]
description = "placeholders and templated passwords"
regexes = ['''(?i)^(?:password|passwd|pass|pwd|secret|changeme|example|x{3,}|\*+|<[^>]*>|\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|%[A-Za-z_]+%|\{\{.*\}\}|\{[A-Za-z0-9_:.]*\}|%s)$''']

[[rules]]
id = "ftp-connection-string"
description = "FTP / SFTP / SSH URL with a password, per RFC 1738 and the sftp URI draft"
regex = '''(?i:\b(?:s?ftps?|ssh|scp))://[^\s:@/'\"`]{1,100}:([^\s:@/'\"`]{3,200})@[^\s'\"`<>]+'''
secretGroup = 1
keywords = ["ftp://", "ftps://", "sftp://", "ssh://", "scp://"]
severity = "high"
[[rules.allowlists]]
description = "placeholders and templated passwords"
regexes = ['''(?i)^(?:password|passwd|pass|pwd|secret|changeme|example|x{3,}|\*+|<[^>]*>|\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|%[A-Za-z_]+%|\{\{.*\}\}|\{[A-Za-z0-9_:.]*\}|%s)$''']

[[rules]]
id = "elasticsearch-connection-string"
description = "Elasticsearch / OpenSearch / CouchDB / InfluxDB URL with a password, per the clients' URL forms"
regex = '''(?i:\b(?:elasticsearch|opensearch|couchdbs?|influxdb|cassandra|memcached))://[^\s:@/'\"`]{1,100}:([^\s:@/'\"`]{3,200})@[^\s'\"`<>]+'''
secretGroup = 1
keywords = ["elasticsearch://", "opensearch://", "couchdb://", "couchdbs://", "influxdb://", "cassandra://", "memcached://"]
severity = "high"
[[rules.allowlists]]
description = "placeholders and templated passwords"
regexes = ['''(?i)^(?:password|passwd|pass|pwd|secret|changeme|example|x{3,}|\*+|<[^>]*>|\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|%[A-Za-z_]+%|\{\{.*\}\}|\{[A-Za-z0-9_:.]*\}|%s)$''']

[[rules]]
id = "sqlserver-connection-string"
description = "SQL Server / ADO.NET connection string with Server and Password keys, per Microsoft's SqlConnection.ConnectionString"
regex = '''(?i:(?:server|data source|host)\s*=[^;\"'\n]{1,200};[^\"'\n]{0,300}?(?:password|pwd)\s*=)\s*([^;\"'\s]{3,128})'''
secretGroup = 1
keywords = ["password=", "pwd="]
severity = "high"
[[rules.allowlists]]
description = "placeholders and templated passwords"
regexes = ['''(?i)^(?:password|passwd|pass|pwd|secret|changeme|example|x{3,}|\*+|<[^>]*>|\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|%[A-Za-z_]+%|\{\{.*\}\}|\{[A-Za-z0-9_:.]*\}|%s)$''']

[[rules]]
id = "kafka-sasl-jaas-password"
description = "Kafka SASL JAAS configuration with a password, per Kafka's sasl.jaas.config"
regex = '''(?i:LoginModule\s+required\b[^;\n]{0,300}?\bpassword\s*=\s*)[\"']([^\"'\s]{3,200})[\"']'''
secretGroup = 1
keywords = ["loginmodule"]
severity = "high"
[[rules.allowlists]]
description = "placeholders and templated passwords"
regexes = ['''(?i)^(?:password|passwd|pass|pwd|secret|changeme|example|x{3,}|\*+|<[^>]*>|\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|%[A-Za-z_]+%|\{\{.*\}\}|\{[A-Za-z0-9_:.]*\}|%s)$''']

[[rules]]
id = "generic-url-password"
description = "URL with user:password of another scheme (https://user:pw@host, ...), per RFC 3986's userinfo"
regex = '''(?i)\b(?:https?|[a-z][a-z0-9+.-]{1,30})://[^\s:@/'\"`]{1,100}:([^\s:@/'\"`]{3,200})@[^\s'\"`<>]+'''
secretGroup = 1
keywords = ["://"]
severity = "high"
[[rules.allowlists]]
description = "placeholders and templated passwords"
regexes = ['''(?i)^(?:password|passwd|pass|pwd|secret|changeme|example|x{3,}|\*+|<[^>]*>|\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|%[A-Za-z_]+%|\{\{.*\}\}|\{[A-Za-z0-9_:.]*\}|%s)$''']

# --- generic ---------------------------------------------------------------------------------
[[rules]]
id = "generic-secret"
description = "High-entropy value assigned to a secret-looking name (more than 3.5 bits per character)"
regex = '''(?im)(?:^|[^a-z0-9])[a-z0-9_.-]{0,30}(?:secret|passw(?:or)?d|passwd|pwd|token|api[_.-]?key|apikey|access[_.-]?key|auth[_.-]?key|private[_.-]?key|client[_.-]?secret|credentials?)[a-z0-9_.-]{0,20}["']?\s{0,5}(?::=|=>|=|:)\s{0,5}["'`]?([a-z0-9+/=_.~!@#$%^&*-]{10,200})["'`]?'''
secretGroup = 1
entropy = 3.5
# Where the regex can report a finding: a name, an assignment and a value of 10 or more characters
# that the identifier allowlist below lets through (one holding a digit or a symbol, or starting
# with '.' or '-'). Names of values that are identifiers (`token_count = get_token_count()`) are
# common in code; they no longer send the line to the regex. Bytes above 0x7f count as value
# characters: the regex, caseless in UTF-8, takes U+017F and U+212A for letters.
prefilter = '''(?:secret|passw(?:or)?d|passwd|pwd|token|api[_.-]?key|apikey|access[_.-]?key|auth[_.-]?key|private[_.-]?key|client[_.-]?secret|credentials?)[a-z0-9_.-]*["']?\s*(?::=|=>|=|:)\s*["'`]?(?:[a-z0-9+/=_.~!@#$%^&*\x80-\xff-]{9,}[0-9+/=~!@#$%^&*]|[0-9+/=~!@#$%^&*][a-z0-9+/=_.~!@#$%^&*\x80-\xff-]{9}|[a-z0-9+/=_.~!@#$%^&*\x80-\xff-][0-9+/=~!@#$%^&*][a-z0-9+/=_.~!@#$%^&*\x80-\xff-]{8}|[a-z0-9+/=_.~!@#$%^&*\x80-\xff-]{2}[0-9+/=~!@#$%^&*][a-z0-9+/=_.~!@#$%^&*\x80-\xff-]{7}|[a-z0-9+/=_.~!@#$%^&*\x80-\xff-]{3}[0-9+/=~!@#$%^&*][a-z0-9+/=_.~!@#$%^&*\x80-\xff-]{6}|[a-z0-9+/=_.~!@#$%^&*\x80-\xff-]{4}[0-9+/=~!@#$%^&*][a-z0-9+/=_.~!@#$%^&*\x80-\xff-]{5}|[a-z0-9+/=_.~!@#$%^&*\x80-\xff-]{5}[0-9+/=~!@#$%^&*][a-z0-9+/=_.~!@#$%^&*\x80-\xff-]{4}|[a-z0-9+/=_.~!@#$%^&*\x80-\xff-]{6}[0-9+/=~!@#$%^&*][a-z0-9+/=_.~!@#$%^&*\x80-\xff-]{3}|[a-z0-9+/=_.~!@#$%^&*\x80-\xff-]{7}[0-9+/=~!@#$%^&*][a-z0-9+/=_.~!@#$%^&*\x80-\xff-]{2}|[a-z0-9+/=_.~!@#$%^&*\x80-\xff-]{8}[0-9+/=~!@#$%^&*][a-z0-9+/=_.~!@#$%^&*\x80-\xff-]|[.-][a-z0-9+/=_.~!@#$%^&*\x80-\xff-]{9})'''
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
  # A reference to where a secret is kept, not the secret: `keyhold run --secret
  # DB_PASSWORD=secret/app/db#password`, Vault and keyhold KV paths.
  '''^[a-z0-9_-]+(?:/[a-z0-9_.-]+)+(?:#[A-Za-z0-9_.-]+)?$''',
]
[[rules.allowlists]]
description = "digests of secrets are not secrets: password_hash, token_sha256, ..."
regexTarget = "match"
regexes = ['''(?i)(?:hash|digest|checksum|sha1|sha224|sha256|sha384|sha512|md5|fingerprint)[a-z0-9_.-]*["']?\s{0,5}(?::=|=>|=|:)''']

# --- files that hold no secrets of their own ------------------------------------------------
[allowlist]
description = "files that hold no secrets of their own: images, fonts, archives, lock files"
paths = [
  '''(?i)\.(?:png|jpe?g|gif|bmp|ico|tiff?|webp|svg|woff2?|ttf|otf|eot|pdf|zip|gz|tgz|bz2|xz|jar|war|class|so|dylib|dll|exe)$''',
  '''(?:^|/)(?:package-lock\.json|npm-shrinkwrap\.json|yarn\.lock|pnpm-lock\.yaml|go\.sum|Cargo\.lock|poetry\.lock|composer\.lock|Gemfile\.lock)$''',
]

)toml";

}  // namespace

std::string_view BuiltinRulesToml() {
  static const std::string kRules = [] {
    std::string all;
    for (std::string_view part : {kPart0, kPart1, kPart2}) all += part;
    return all;
  }();
  return kRules;
}

}  // namespace keyhold::scan
