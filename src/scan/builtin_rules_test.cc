// Every built-in rule, proven: a value it must find, in a realistic line, and a near miss it
// must not report (wrong length, wrong alphabet, wrong check, placeholder, documented example).
// A rule without a case here fails EveryBuiltinRuleHasACase.
//
// Values are made at run time from templates, so this file holds no credential-shaped literal:
//   {N:c}   N random characters of class c (A alnum, a lower alnum, U upper alnum, h/H hex,
//           d digits, l/L/u letters, b base64, B base64url, 3 base32)
//   {N*c}   the character c, N times
//   {crc} / {badcrc}   GitHub's CRC32 check of the characters since the last '_' (or a wrong one)
//   {uuid} {UUID} {jwt} {b64json:N} {b64jsonu:N} {age} {badage} {discord} {pem:LABEL} {ssh2}
//   {ppk} {ovpn}
// A template starting with '!' is a whole line (or lines); '@' is a path, for path rules.
// Otherwise the value is assigned to a name (the case's, or the rule id in upper case) in one of
// four syntaxes: shell, YAML, JSON, Python.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "core/key_format.h"
#include "fakes/fake_secrets.h"
#include "scan/scanner.h"
#include "scan/validate.h"

namespace keyhold::scan {
namespace {

struct Case {
  const char* rule;
  const char* find;
  const char* miss;
  const char* name;  // "" : the rule id in upper case
  const char* path;  // "" : app/config.py
};

// clang-format off
const Case kCases[] = {
    {"aws-access-key-id", "AKIA{16:3}", "AKIAIOSFODNN7EXAMPLE", "", ""},
    {"aws-secret-access-key", "{40:b}", "{39:b}", "AWS_SECRET_ACCESS_KEY", ""},
    {"aws-session-token", "IQoJb3JpZ2lu{300:b}", "IQoJb3JpZ2lu{150:b}", "", ""},
    {"aws-mws-key", "amzn.mws.{uuid}", "amzn.mws.{8:h}-{4:h}-{4:h}-{4:h}", "", ""},
    {"aws-bedrock-api-key", "ABSK{132:b}", "ABSK{60:b}", "", ""},
    {"gcp-api-key", "AIza{35:B}", "AIza{34:B}", "", ""},
    {"gcp-service-account-key", "!  \"private_key_id\": \"{40:h}\",", "!  \"private_key_id\": \"{39:h}\",", "", ""},
    {"gcp-oauth-client-secret", "GOCSPX-{28:B}", "GOCSPX-{20:B}", "", ""},
    {"gcp-oauth-access-token", "ya29.{120:B}", "ya29.{20:B}", "", ""},
    {"azure-storage-account-key", "!DefaultEndpointsProtocol=https;AccountName=crmfiles;AccountKey={86:b}==;EndpointSuffix=core.windows.net", "!DefaultEndpointsProtocol=https;AccountName=crmfiles;AccountKey={80:b}==;EndpointSuffix=core.windows.net", "", ""},
    {"azure-sas-token", "!https://crmfiles.blob.core.windows.net/exports?sv=2022-11-02&ss=b&srt=o&sp=r&se=2027-01-01T00:00:00Z&sig={43:A}%3D", "!https://crmfiles.blob.core.windows.net/exports?ss=b&sp=r&sig=abc", "", ""},
    {"azure-ad-client-secret", "{3:A}8Q~{34:A}", "{3:A}8Q~{20:A}", "", ""},
    {"azure-service-bus-key", "!Endpoint=sb://crm-bus.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey={43:b}=", "!Endpoint=sb://crm-bus.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey={30:b}=", "", ""},
    {"azure-app-configuration-secret", "!Endpoint=https://crm.azconfig.io;Id={4:A}-l0-s0:{20:A};Secret={43:b}=", "!Endpoint=https://crm.azconfig.io;Id={4:A}-l0-s0:{20:A};Secret=<secret>", "", ""},
    {"azure-devops-pat", "{76:A}AZDO{4:A}", "{70:A}AZDO{4:A}", "", ""},
    {"alibaba-access-key-id", "LTAI{20:A}", "LTAI{8:A}", "", ""},
    {"alibaba-access-key-secret", "{30:A}", "{29:A}", "", ""},
    {"ibm-cloud-api-key", "{44:B}", "{43:B}", "", ""},
    {"oracle-cloud-auth-token", "{20:A}", "{19:A}", "OCI_AUTH_TOKEN", ""},
    {"oracle-cloud-customer-secret-key", "{43:b}=", "{40:b}=", "OCI_CUSTOMER_SECRET_KEY", ""},
    {"digitalocean-pat", "dop_v1_{64:h}", "dop_v1_{63:h}", "", ""},
    {"digitalocean-oauth-token", "doo_v1_{64:h}", "doo_v1_{64:u}", "", ""},
    {"digitalocean-refresh-token", "dor_v1_{64:h}", "dor_v1_{60:h}", "", ""},
    {"heroku-api-key", "{uuid}", "{8:h}-{4:h}-{4:h}-{12:h}", "", ""},
    {"heroku-api-key-v2", "HRKU-AA{58:B}", "HRKU-AA{50:B}", "", ""},
    {"flyio-access-token", "fo1_{43:B}", "fo1_{42:B}", "", ""},
    {"flyio-macaroon", "fm2_{160:b}", "fm2_{60:b}", "", ""},
    {"vercel-access-token", "{24:A}", "{23:A}", "", ""},
    {"netlify-access-token", "{43:B}", "{30:B}", "", ""},
    {"cloudflare-api-token", "{40:B}", "{39:B}", "CLOUDFLARE_API_TOKEN", ""},
    {"cloudflare-global-api-key", "{37:h}", "{36:h}", "", ""},
    {"cloudflare-origin-ca-key", "v1.0-{24:h}-{146:h}", "v1.0-{24:h}-{100:h}", "", ""},
    {"linode-token", "{64:h}", "{63:h}", "", ""},
    {"scaleway-access-key", "SCW{17:U}", "SCW{16:U}", "", ""},
    {"scaleway-secret-key", "{uuid}", "{uuid}x", "SCW_SECRET_KEY", ""},
    {"hetzner-cloud-token", "{64:A}", "{63:A}", "HCLOUD_TOKEN", ""},
    {"vultr-api-key", "{36:U}", "{35:U}", "", ""},
    {"tencent-cloud-secret-id", "AKID{32:A}", "AKID{31:A}", "", ""},
    {"tencent-cloud-secret-key", "{32:A}", "{31:A}", "TENCENTCLOUD_SECRET_KEY", ""},
    {"yandex-api-key", "AQVN{36:B}", "AQVN{20:B}", "", ""},
    {"yandex-static-access-key", "YC{38:B}", "YC{30:B}", "", ""},
    {"yandex-iam-token", "t1.{40:B}.{86:B}", "t1.{40:B}.{50:B}", "", ""},
    {"openshift-user-token", "sha256~{43:B}", "sha256~{42:B}", "", ""},
    {"kubernetes-service-account-token", "{jwt}", "eyJ{20:B}.eyJ{30:B}.{43:B}", "KUBE_TOKEN", ""},
    {"github-pat", "ghp_{30:A}{crc}", "ghp_{30:A}{badcrc}", "", ""},
    {"github-oauth-token", "gho_{30:A}{crc}", "gho_{30:A}{badcrc}", "", ""},
    {"github-app-user-token", "ghu_{30:A}{crc}", "ghu_{30:A}{badcrc}", "", ""},
    {"github-app-installation-token", "ghs_{30:A}{crc}", "ghs_{30:A}{badcrc}", "", ""},
    {"github-refresh-token", "ghr_{30:A}{crc}", "ghr_{30:A}{badcrc}", "", ""},
    {"github-fine-grained-pat", "github_pat_{22:A}_{59:A}", "github_pat_{22:A}_{40:A}", "", ""},
    {"gitlab-pat", "glpat-{20:A}", "glpat-{19:A}", "", ""},
    {"gitlab-pat-routable", "glpat-{36:A}.01{7:a}", "glpat-{36:A}.01{3:a}", "", ""},
    {"gitlab-deploy-token", "gldt-{20:A}", "gldt-{19:A}", "", ""},
    {"gitlab-runner-token", "glrt-{20:A}", "glrt-{19:A}", "", ""},
    {"gitlab-ci-job-token", "glcbt-64_{20:A}", "glcbt-64_{12:A}", "", ""},
    {"gitlab-feed-token", "glft-{20:A}", "glft-{19:A}", "", ""},
    {"gitlab-incoming-mail-token", "glimt-{25:A}", "glimt-{24:A}", "", ""},
    {"gitlab-agent-token", "glagent-{50:A}", "glagent-{49:A}", "", ""},
    {"gitlab-oauth-app-secret", "gloas-{64:A}", "gloas-{63:A}", "", ""},
    {"gitlab-scim-token", "glsoat-{20:A}", "glsoat-{19:A}", "", ""},
    {"gitlab-feature-flag-token", "glffct-{20:A}", "glffct-{19:A}", "", ""},
    {"gitlab-pipeline-trigger-token", "glptt-{40:h}", "glptt-{39:h}", "", ""},
    {"gitlab-runner-registration-token", "GR1348941{20:A}", "GR1348941{19:A}", "", ""},
    {"gitlab-session-cookie", "!curl -H 'Cookie: _gitlab_session={32:h}' https://gitlab.internal/api/v4/user", "!curl -H 'Cookie: _gitlab_session={31:h}' https://gitlab.internal/api/v4/user", "", ""},
    {"bitbucket-app-password", "ATBB{32:A}", "ATBB{20:A}", "", ""},
    {"bitbucket-client-id", "{32:A}", "{31:A}", "", ""},
    {"bitbucket-client-secret", "{64:B}", "{63:B}", "", ""},
    {"circleci-personal-token", "CCIPAT_{22:A}_{40:h}", "CCIPAT_{22:A}_{39:h}", "", ""},
    {"circleci-project-token", "CCIPRJ_{22:A}_{40:h}", "CCIPRJ_{22:A}_{30:h}", "", ""},
    {"circleci-legacy-token", "{40:h}", "{39:h}", "CIRCLECI_TOKEN", ""},
    {"travis-ci-token", "{22:B}", "{21:B}", "TRAVIS_API_TOKEN", ""},
    {"buildkite-api-token", "bkua_{40:h}", "bkua_{39:h}", "", ""},
    {"buildkite-agent-token", "{50:A}", "{49:A}", "BUILDKITE_AGENT_TOKEN", ""},
    {"jenkins-api-token", "11{32:h}", "11{31:h}", "", ""},
    {"drone-ci-token", "{32:A}", "{31:A}", "DRONE_TOKEN", ""},
    {"codecov-token", "{uuid}", "{8:h}-{4:h}-{4:h}", "", ""},
    {"sonarqube-token", "squ_{40:h}", "squ_{39:h}", "", ""},
    {"snyk-api-token", "{uuid}", "{UUID}x", "", ""},
    {"sourcegraph-access-token", "sgp_{16:h}_{40:h}", "sgp_{16:h}_{39:h}", "", ""},
    {"harness-access-token", "pat.{22:B}.{24:A}.{20:A}", "pat.{22:B}.{24:A}.{19:A}", "", ""},
    {"terraform-cloud-token", "{14:A}.atlasv1.{67:A}", "{14:A}.atlasv1.{40:A}", "", ""},
    {"pulumi-access-token", "pul-{40:h}", "pul-{39:h}", "", ""},
    {"octopus-deploy-api-key", "API-{28:U}", "API-{20:U}", "OCTOPUS_API_KEY", ""},
    {"infracost-api-key", "ico-{32:A}", "ico-{31:A}", "", ""},
    {"prefect-api-key", "pnu_{36:A}", "pnu_{35:A}", "", ""},
    {"readme-api-key", "rdme_{70:a}", "rdme_{69:a}", "", ""},
    {"postman-api-key", "PMAK-{24:h}-{34:h}", "PMAK-{24:h}-{33:h}", "", ""},
    {"scalingo-api-token", "tk-us-{48:A}", "tk-us-{47:A}", "", ""},
    {"render-api-key", "rnd_{32:A}", "rnd_{31:A}", "", ""},
    {"railway-token", "{uuid}", "{8:h}-{4:h}-{4:h}-{4:h}-{11:h}", "RAILWAY_TOKEN", ""},
    {"npm-access-token", "npm_{30:A}{crc}", "npm_{30:A}{badcrc}", "", ""},
    {"npmrc-auth-token", "!//registry.npmjs.org/:_authToken={uuid}", "!//registry.npmjs.org/:_authToken=${NPM_TOKEN}", "", ""},
    {"npmrc-basic-auth", "!//registry.internal/:_auth={24:b}", "!//registry.internal/:_auth=${NPM_AUTH}", "", ".npmrc"},
    {"pypi-upload-token", "pypi-AgEIcHlwaS5vcmc{120:B}", "pypi-AgEIcHlwaS5vcmd{120:B}", "", ""},
    {"pypi-test-upload-token", "pypi-AgENdGVzdC5weXBpLm9yZw{120:B}", "pypi-AgENdGVzdC5weXBpLm9yZw{20:B}", "", ""},
    {"rubygems-api-key", "rubygems_{48:h}", "rubygems_{47:h}", "", ""},
    {"nuget-api-key", "oy2{43:a}", "oy2{42:a}", "", ""},
    {"nuget-config-password", "!      <add key=\"ClearTextPassword\" value=\"{16:A}\" />", "!      <add key=\"ClearTextPassword\" value=\"%FEED_PASSWORD%\" />", "", "NuGet.Config"},
    {"crates-io-api-token", "cio{32:A}", "cio{31:A}", "", ""},
    {"docker-hub-pat", "dckr_pat_{27:B}", "dckr_pat_{26:B}", "", ""},
    {"docker-hub-oat", "dckr_oat_{32:B}", "dckr_oat_{31:B}", "", ""},
    {"docker-config-auth", "!    \"ghcr.io\": { \"auth\": \"{32:b}\" }", "!    \"ghcr.io\": { \"auth\": \"\" }", "", ".docker/config.json"},
    {"artifactory-api-key", "AKCp{69:A}", "AKCp{50:A}", "", ""},
    {"artifactory-reference-token", "cmVmd{59:A}", "cmVmd{50:A}", "", ""},
    {"jfrog-identity-token", "{64:A}", "{63:A}", "JFROG_IDENTITY_TOKEN", ""},
    {"clojars-deploy-token", "CLOJARS_{60:a}", "CLOJARS_{59:a}", "", ""},
    {"hex-pm-api-key", "{32:h}", "{31:h}", "HEX_API_KEY", ""},
    {"maven-settings-password", "!      <password>{16:A}</password>", "!      <password>${env.REPO_PASSWORD}</password>", "", ".m2/settings.xml"},
    {"gradle-publish-key", "{32:A}", "{31:A}", "gradle.publish.secret", ""},
    {"openai-api-key", "sk-proj-{58:B}T3BlbkFJ{58:B}", "sk-proj-{10:B}T3BlbkFJ{10:B}", "", ""},
    {"anthropic-api-key", "sk-ant-api03-{93:B}AA", "sk-ant-api03-{93:B}AB", "", ""},
    {"anthropic-admin-key", "sk-ant-admin01-{93:B}AA", "sk-ant-admin01-{90:B}AA", "", ""},
    {"cohere-api-key", "{40:A}", "{39:A}", "", ""},
    {"huggingface-token", "hf_{34:L}", "hf_{33:L}", "", ""},
    {"huggingface-org-token", "api_org_{34:L}", "api_org_{33:L}", "", ""},
    {"replicate-api-token", "r8_{37:A}", "r8_{36:A}", "", ""},
    {"groq-api-key", "gsk_{52:A}", "gsk_{51:A}", "", ""},
    {"mistral-api-key", "{32:A}", "{31:A}", "", ""},
    {"perplexity-api-key", "pplx-{48:A}", "pplx-{47:A}", "", ""},
    {"xai-api-key", "xai-{80:A}", "xai-{79:A}", "", ""},
    {"openrouter-api-key", "sk-or-v1-{64:h}", "sk-or-v1-{63:h}", "", ""},
    {"deepseek-api-key", "sk-{32:h}", "sk-{31:h}", "", ""},
    {"together-api-key", "tgp_v1_{43:B}", "tgp_v1_{40:B}", "TOGETHER_API_KEY", ""},
    {"fireworks-api-key", "fw_{24:A}", "fw_{23:A}", "", ""},
    {"langsmith-api-key", "lsv2_pt_{32:h}_{10:h}", "lsv2_pt_{32:h}_{9:h}", "", ""},
    {"elevenlabs-api-key", "sk_{48:h}", "sk_{47:h}", "ELEVENLABS_API_KEY", ""},
    {"deepgram-api-key", "{40:h}", "{39:h}", "", ""},
    {"assemblyai-api-key", "{32:h}", "{31:h}", "ASSEMBLYAI_API_KEY", ""},
    {"stability-api-key", "sk-{48:A}", "sk-{47:A}", "STABILITY_API_KEY", ""},
    {"voyage-api-key", "pa-{43:B}", "pa-{42:B}", "VOYAGE_API_KEY", ""},
    {"wandb-api-key", "{40:h}", "{39:h}", "WANDB_API_KEY", ""},
    {"pinecone-api-key", "pcsk_{6:A}_{63:A}", "pcsk_{6:A}_{30:A}", "", ""},
    {"stripe-secret-key", "sk_live_{24:A}", "sk_live_{24*x}", "", ""},
    {"stripe-test-secret-key", "sk_test_{24:A}", "sk_test_{10:A}", "", ""},
    {"stripe-restricted-key", "rk_live_{24:A}", "rk_live_{23:A}", "", ""},
    {"stripe-webhook-secret", "whsec_{32:A}", "whsec_{20:A}", "", ""},
    {"square-access-token", "EAAA{60:B}", "EAAA{40:B}", "", ""},
    {"square-oauth-secret", "sq0csp-{43:B}", "sq0csp-{42:B}", "", ""},
    {"braintree-access-token", "access_token$production${16:a}${32:h}", "access_token$production${16:a}${31:h}", "", ""},
    {"paypal-client-secret", "{80:B}", "{79:B}", "PAYPAL_CLIENT_SECRET", ""},
    {"adyen-api-key", "AQE{100:B}", "AQE{30:B}", "", ""},
    {"shopify-access-token", "shpat_{32:h}", "shpat_{31:h}", "", ""},
    {"shopify-custom-app-token", "shpca_{32:h}", "shpca_{31:h}", "", ""},
    {"shopify-private-app-token", "shppa_{32:h}", "shppa_{31:h}", "", ""},
    {"shopify-shared-secret", "shpss_{32:h}", "shpss_{31:h}", "", ""},
    {"plaid-access-token", "access-production-{uuid}", "access-staging-{uuid}", "", ""},
    {"plaid-secret", "{30:a}", "{29:a}", "PLAID_SECRET", ""},
    {"coinbase-api-secret", "{64:B}", "{63:B}", "", ""},
    {"razorpay-key-id", "rzp_live_{14:A}", "rzp_live_{13:A}", "", ""},
    {"razorpay-key-secret", "{24:A}", "{23:A}", "RAZORPAY_KEY_SECRET", ""},
    {"flutterwave-secret-key", "FLWSECK-{32:h}-X", "FLWSECK-{31:h}-X", "", ""},
    {"flutterwave-encryption-key", "FLWSECK_TEST{12:h}", "FLWSECK_TEST{11:h}", "", ""},
    {"gocardless-access-token", "live_{40:B}", "live_{39:B}", "", ""},
    {"paddle-api-key", "pdl_live_apikey_{26:a}_{22:A}_{3:A}", "pdl_live_apikey_{26:a}_{22:A}_{2:A}", "", ""},
    {"mollie-api-key", "live_{30:A}", "live_{29:A}", "", ""},
    {"shippo-api-token", "shippo_live_{40:h}", "shippo_live_{39:h}", "", ""},
    {"easypost-api-key", "EZAK{54:A}", "EZAK{53:A}", "", ""},
    {"duffel-api-token", "duffel_live_{43:B}", "duffel_live_{42:B}", "", ""},
    {"lemonsqueezy-api-key", "{jwt}", "eyJ{20:B}.eyJ{30:B}.{43:B}", "LEMONSQUEEZY_API_KEY", ""},
    {"slack-bot-token", "xoxb-{12:d}-{13:d}-{24:A}", "xoxb-{12:d}-{13:d}-{20:A}", "", ""},
    {"slack-user-token", "xoxp-{12:d}-{12:d}-{13:d}-{32:h}", "xoxp-{12:d}-{12:d}-{32:h}", "", ""},
    {"slack-app-token", "xapp-1-A{10:U}-{13:d}-{64:h}", "xapp-1-A{10:U}-{13:d}-{60:h}", "", ""},
    {"slack-config-token", "xoxe.xoxp-1-{164:U}", "xoxe.xoxp-1-{100:U}", "", ""},
    {"slack-config-refresh-token", "xoxe-1-{146:U}", "xoxe-1-{145:U}", "", ""},
    {"slack-legacy-token", "xoxs-{12:d}-{12:d}-{12:d}-{32:h}", "xoxs-{12:d}-{8:h}", "", ""},
    {"slack-webhook-url", "https://hooks.slack.com/services/T{8:U}/B{10:U}/{24:A}", "https://hooks.slack.com/services/T{8:U}", "", ""},
    {"discord-webhook-url", "https://discord.com/api/webhooks/{19:d}/{68:B}", "https://discord.com/api/webhooks/{19:d}/{40:B}", "", ""},
    {"discord-bot-token", "{discord}", "M{23:B}.{6:B}.{38:B}", "DISCORD_BOT_TOKEN", ""},
    {"discord-client-secret", "{32:B}", "{31:B}", "DISCORD_CLIENT_SECRET", ""},
    {"telegram-bot-token", "{10:d}:AA{33:B}", "{10:d}:AA{30:B}", "", ""},
    {"twilio-api-key", "SK{32:h}", "SK{31:h}", "", ""},
    {"twilio-auth-token", "{32:h}", "{31:h}", "TWILIO_AUTH_TOKEN", ""},
    {"sendgrid-api-key", "SG.{22:B}.{43:B}", "SG.{22:B}.{42:B}", "", ""},
    {"mailgun-api-key", "key-{32:h}", "key-{31:h}", "", ""},
    {"mailgun-private-key", "{32:h}-{8:h}-{8:h}", "{32:h}-{8:h}", "", ""},
    {"mailgun-public-key", "pubkey-{32:h}", "pubkey-{31:h}", "", ""},
    {"mailchimp-api-key", "{32:h}-us21", "{31:h}-us21", "", ""},
    {"mandrill-api-key", "md-{22:B}", "md-{21:B}", "", ""},
    {"postmark-server-token", "{uuid}", "{8:h}-{4:h}-{4:h}-{4:h}", "POSTMARK_SERVER_TOKEN", ""},
    {"sparkpost-api-key", "{40:h}", "{39:h}", "", ""},
    {"brevo-api-key", "xkeysib-{64:h}-{16:A}", "xkeysib-{64:h}-{15:A}", "", ""},
    {"brevo-smtp-key", "xsmtpsib-{64:h}-{16:A}", "xsmtpsib-{63:h}-{16:A}", "", ""},
    {"mailjet-api-secret", "{32:h}", "{31:h}", "MAILJET_API_SECRET", ""},
    {"resend-api-key", "re_{8:A}_{24:A}", "re_{8:A}_{23:A}", "", ""},
    {"mailersend-api-token", "mlsn.{64:h}", "mlsn.{63:h}", "", ""},
    {"messagebird-api-key", "{25:A}", "{24:A}", "MESSAGEBIRD_API_KEY", ""},
    {"vonage-api-secret", "{16:A}", "{15:A}", "VONAGE_API_SECRET", ""},
    {"plivo-auth-token", "{40:A}", "{39:A}", "PLIVO_AUTH_TOKEN", ""},
    {"pusher-app-secret", "{20:h}", "{19:h}", "PUSHER_APP_SECRET", ""},
    {"ably-api-key", "{6:A}.{6:A}:{43:B}", "{6:A}.{6:A}:{40:B}", "ABLY_API_KEY", ""},
    {"microsoft-teams-webhook", "https://crm.webhook.office.com/webhookb2/{uuid}@{uuid}/IncomingWebhook/{32:h}/{uuid}", "https://crm.webhook.office.com/webhookb2/{uuid}@{uuid}/IncomingWebhook/{31:h}/{uuid}", "", ""},
    {"mattermost-access-token", "{26:a}", "{25:a}", "", ""},
    {"zulip-api-key", "{32:A}", "{31:A}", "", ""},
    {"intercom-access-token", "{60:B}", "{59:B}", "", ""},
    {"facebook-access-token", "EAAG{150:A}", "EAAG{60:A}", "", ""},
    {"facebook-app-secret", "{32:h}", "{31:h}", "FACEBOOK_APP_SECRET", ""},
    {"twitter-bearer-token", "{22*A}{90:A}", "{22*A}{40:A}", "TWITTER_BEARER_TOKEN", ""},
    {"twitter-api-key", "{25:A}", "{24:A}", "", ""},
    {"twitter-api-secret", "{50:A}", "{49:A}", "", ""},
    {"twitter-access-token", "{19:d}-{30:A}", "{19:d}-{10:A}", "", ""},
    {"linkedin-client-secret", "{16:A}", "{15:A}", "LINKEDIN_CLIENT_SECRET", ""},
    {"twitch-api-token", "{30:a}", "{29:a}", "", ""},
    {"zendesk-api-token", "{40:A}", "{39:A}", "", ""},
    {"freshdesk-api-key", "{20:A}", "{19:A}", "", ""},
    {"hubspot-private-app-token", "pat-na1-{uuid}", "pat-na1-{8:h}-{4:h}", "", ""},
    {"hubspot-api-key", "{UUID}", "{8:H}-{4:H}-{4:H}", "", ""},
    {"sendbird-api-token", "{40:h}", "{39:h}", "", ""},
    {"datadog-api-key", "{32:h}", "{31:h}", "DATADOG_API_KEY", ""},
    {"datadog-app-key", "{40:h}", "{39:h}", "DATADOG_APP_KEY", ""},
    {"new-relic-user-api-key", "NRAK-{27:U}", "NRAK-{26:U}", "", ""},
    {"new-relic-license-key", "{36:h}NRAL", "{35:h}NRAL", "", ""},
    {"new-relic-insert-key", "NRII-{32:B}", "NRII-{31:B}", "", ""},
    {"new-relic-browser-key", "NRJS-{19:h}", "NRJS-{18:h}", "", ""},
    {"new-relic-query-key", "NRIQ-{32:B}", "NRIQ-{30:B}", "", ""},
    {"grafana-cloud-token", "glc_{b64json:80}", "glc_eyJ{60:b}", "", ""},
    {"grafana-service-account-token", "glsa_{32:A}_{8:h}", "glsa_{32:A}_{7:h}", "", ""},
    {"grafana-api-key", "{b64json:80}", "eyJrIjoi{20:b}", "", ""},
    {"sentry-org-token", "sntrys_{b64json:80}_{43:b}", "sntrys_{b64json:80}_{40:b}", "", ""},
    {"sentry-user-token", "sntryu_{64:h}", "sntryu_{63:h}", "", ""},
    {"sentry-legacy-token", "{64:h}", "{63:h}", "SENTRY_AUTH_TOKEN", ""},
    {"honeycomb-api-key", "{22:A}", "{21:A}", "", ""},
    {"pagerduty-api-key", "u+{18:A}", "u+{10:A}", "PAGERDUTY_API_KEY", ""},
    {"pagerduty-integration-key", "{32:h}", "{31:h}", "PAGERDUTY_ROUTING_KEY", ""},
    {"dynatrace-api-token", "dt0c01.{24:U}.{64:U}", "dt0c01.{24:U}.{63:U}", "", ""},
    {"dynatrace-platform-token", "dt0s16.{24:U}.{64:U}", "dt0s16.{24:U}.{60:U}", "", ""},
    {"splunk-hec-token", "{uuid}", "{8:h}-{4:h}-{4:h}-{4:h}-{10:h}", "SPLUNK_HEC_TOKEN", ""},
    {"sumologic-access-key", "{64:A}", "{63:A}", "SUMO_ACCESS_KEY", ""},
    {"sumologic-access-id", "su{12:A}", "su{11:A}", "SUMO_ACCESS_ID", ""},
    {"opsgenie-api-key", "{uuid}", "{8:h}-{4:h}-{4:h}", "", ""},
    {"rollbar-access-token", "{32:h}", "{31:h}", "", ""},
    {"bugsnag-api-key", "{32:h}", "{31:h}", "", ""},
    {"logzio-token", "{32:A}", "{31:A}", "LOGZIO_TOKEN", ""},
    {"launchdarkly-key", "sdk-{uuid}", "sdk-{8:h}-{4:h}", "LAUNCHDARKLY_SDK_KEY", ""},
    {"elastic-api-key", "{80:b}", "{40:b}", "ELASTIC_API_KEY", ""},
    {"databricks-token", "dapi{32:h}", "dapi{31:h}", "", ""},
    {"snowflake-password", "{20:A}", "{6:A}", "SNOWFLAKE_PASSWORD", ""},
    {"mongodb-atlas-private-key", "{uuid}", "{8:h}-{4:h}-{4:h}", "MONGODB_ATLAS_PRIVATE_KEY", ""},
    {"mongodb-atlas-service-account-secret", "mdb_sa_sk_{40:A}", "mdb_sa_sk_{30:A}", "", ""},
    {"planetscale-service-token", "pscale_tkn_{43:A}", "pscale_tkn_{20:A}", "", ""},
    {"planetscale-oauth-token", "pscale_oauth_{43:A}", "pscale_oauth_{20:A}", "", ""},
    {"planetscale-password", "pscale_pw_{43:A}", "pscale_pw_{20:A}", "", ""},
    {"supabase-access-token", "sbp_{40:h}", "sbp_{39:h}", "", ""},
    {"supabase-secret-key", "sb_secret_{31:B}", "sb_secret_{20:B}", "", ""},
    {"supabase-service-role-key", "{jwt}", "eyJ{20:B}.eyJ{30:B}.{43:B}", "SUPABASE_SERVICE_ROLE_KEY", ""},
    {"firebase-cloud-messaging-key", "AAAA{7:B}:APA91b{134:B}", "AAAA{7:B}:APA91b{100:B}", "", ""},
    {"firebase-database-secret", "{40:A}", "{39:A}", "FIREBASE_DATABASE_SECRET", ""},
    {"neon-api-key", "napi_{64:a}", "napi_{63:a}", "", ""},
    {"confluent-api-secret", "{64:b}", "{63:b}", "", ""},
    {"algolia-admin-key", "{32:h}", "{31:h}", "ALGOLIA_ADMIN_KEY", ""},
    {"clickhouse-cloud-key", "4b1d{38:A}", "4b1d{37:A}", "", ""},
    {"redis-cloud-api-key", "{50:A}", "{30:A}", "REDIS_CLOUD_API_SECRET", ""},
    {"upstash-token", "{60:B}", "{30:B}", "", ""},
    {"influxdb-token", "{86:B}==", "{80:B}==", "INFLUX_TOKEN", ""},
    {"airtable-api-key", "pat{14:A}.{64:h}", "pat{14:A}.{60:h}", "AIRTABLE_TOKEN", ""},
    {"vault-service-token", "hvs.{95:B}", "hvs.{24:B}", "", ""},
    {"vault-batch-token", "hvb.{150:B}", "hvb.{100:B}", "", ""},
    {"vault-legacy-token", "s.{24:A}", "s.{23:A}", "VAULT_TOKEN", ""},
    {"doppler-personal-token", "dp.pt.{43:A}", "dp.pt.{30:A}", "", ""},
    {"doppler-service-token", "dp.st.{43:A}", "dp.st.{30:A}", "", ""},
    {"doppler-cli-token", "dp.ct.{43:A}", "dp.ct.{30:A}", "", ""},
    {"doppler-service-account-token", "dp.sa.{43:A}", "dp.sa.{30:A}", "", ""},
    {"doppler-scim-token", "dp.scim.{43:A}", "dp.scim.{30:A}", "", ""},
    {"doppler-audit-token", "dp.audit.{43:A}", "dp.audit.{30:A}", "", ""},
    {"1password-secret-key", "A3-{6:U}-{6:U}-{5:U}-{5:U}-{5:U}-{5:U}", "A3-{6:U}-{6:U}-{5:U}-{5:U}-{5:U}", "", ""},
    {"1password-service-account-token", "ops_{b64json:320}", "ops_eyJ{300:b}", "", ""},
    {"age-secret-key", "{age}", "{badage}", "", ""},
    {"okta-api-token", "00{40:B}", "00{39:B}", "OKTA_API_TOKEN", ""},
    {"auth0-client-secret", "{64:B}", "{63:B}", "AUTH0_CLIENT_SECRET", ""},
    {"auth0-management-token", "{jwt}", "eyJ{20:B}.eyJ{30:B}.{43:B}", "AUTH0_MANAGEMENT_TOKEN", ""},
    {"clerk-secret-key", "sk_live_{46:A}", "sk_live_{10:A}", "CLERK_SECRET_KEY", ""},
    {"infisical-token", "st.{uuid}.{32:h}.{32:h}", "st.{uuid}.{32:h}.{31:h}", "INFISICAL_TOKEN", ""},
    {"keycloak-client-secret", "{32:A}", "{31:A}", "KEYCLOAK_CLIENT_SECRET", ""},
    {"atlassian-api-token", "ATATT3{186:B}", "ATATT3{100:B}", "", ""},
    {"atlassian-legacy-token", "{24:A}", "{23:A}", "JIRA_API_TOKEN", ""},
    {"linear-api-key", "lin_api_{40:A}", "lin_api_{39:A}", "", ""},
    {"linear-oauth-token", "lin_oauth_{64:h}", "lin_oauth_{63:h}", "", ""},
    {"linear-client-secret", "{32:h}", "{31:h}", "LINEAR_CLIENT_SECRET", ""},
    {"notion-integration-token", "ntn_{11:d}{35:A}", "ntn_{11:d}{34:A}", "", ""},
    {"notion-legacy-token", "secret_{43:A}", "secret_{42:A}", "", ""},
    {"asana-personal-access-token", "2/{16:d}/{16:d}:{32:h}", "2/{16:d}/{16:d}:{31:h}", "ASANA_TOKEN", ""},
    {"figma-pat", "figd_{40:B}", "figd_{39:B}", "", ""},
    {"trello-api-token", "{64:h}", "{63:h}", "TRELLO_TOKEN", ""},
    {"clickup-api-token", "pk_{8:d}_{32:U}", "pk_{8:d}_{31:U}", "CLICKUP_TOKEN", ""},
    {"todoist-api-token", "{40:h}", "{39:h}", "", ""},
    {"dropbox-access-token", "sl.u.{150:B}", "sl.u.{60:B}", "", ""},
    {"box-client-secret", "{32:A}", "{31:A}", "BOX_CLIENT_SECRET", ""},
    {"typeform-api-token", "tfp_{59:B}", "tfp_{58:B}", "", ""},
    {"contentful-token", "CFPAT-{43:B}", "CFPAT-{42:B}", "", ""},
    {"mapbox-secret-token", "sk.{b64jsonu:40}.{22:B}", "sk.eyJ{30:B}.{22:B}", "", ""},
    {"cloudinary-url", "!CLOUDINARY_URL=cloudinary://{15:d}:{27:B}@crm-assets", "!CLOUDINARY_URL=cloudinary://{15:d}:<api_secret>@crm-assets", "", ""},
    {"segment-write-key", "{32:A}", "{31:A}", "SEGMENT_WRITE_KEY", ""},
    {"frameio-api-token", "fio-u-{64:B}", "fio-u-{63:B}", "", ""},
    {"maxmind-license-key", "{6:A}_{29:A}_mmk", "{6:A}_{28:A}_mmk", "", ""},
    {"zoom-client-secret", "{32:A}", "{31:A}", "ZOOM_CLIENT_SECRET", ""},
    {"calendly-token", "{jwt}", "eyJ{20:B}.eyJ{30:B}.{43:B}", "CALENDLY_TOKEN", ""},
    {"monday-api-token", "{jwt}", "eyJ{20:B}.eyJ{30:B}.{43:B}", "MONDAY_API_TOKEN", ""},
    {"miro-access-token", "{30:B}", "{20:B}", "MIRO_ACCESS_TOKEN", ""},
    {"jwt", "{jwt}", "eyJ{20:B}.eyJ{30:B}.{43:B}", "", ""},
    {"private-key-rsa", "!{pem:RSA PRIVATE KEY}", "!-----BEGIN " "RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----", "", ""},
    {"private-key-dsa", "!{pem:DSA PRIVATE KEY}", "!-----BEGIN " "DSA PRIVATE KEY-----\n...\n-----END DSA PRIVATE KEY-----", "", ""},
    {"private-key-ec", "!{pem:EC PRIVATE KEY}", "!-----BEGIN " "EC PRIVATE KEY-----\n...\n-----END EC PRIVATE KEY-----", "", ""},
    {"private-key-openssh", "!{pem:OPENSSH PRIVATE KEY}", "!-----BEGIN " "OPENSSH PRIVATE KEY-----\n...\n-----END OPENSSH PRIVATE KEY-----", "", ""},
    {"private-key-pkcs8", "!{pem:PRIVATE KEY}", "!-----BEGIN " "PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----", "", ""},
    {"private-key-pkcs8-encrypted", "!{pem:ENCRYPTED PRIVATE KEY}", "!-----BEGIN " "ENCRYPTED PRIVATE KEY-----\n...\n-----END ENCRYPTED PRIVATE KEY-----", "", ""},
    {"private-key-pgp", "!{pem:PGP PRIVATE KEY BLOCK}", "!-----BEGIN " "PGP PRIVATE KEY BLOCK-----\n...\n-----END PGP PRIVATE KEY BLOCK-----", "", ""},
    {"generic-private-key", "!{pem:ED25519 PRIVATE KEY}", "!-----BEGIN " "ED25519 PRIVATE KEY-----\n-----END ED25519 PRIVATE KEY-----", "", ""},
    {"private-key-ssh2", "!{ssh2}", "!---- BEGIN " "SSH2 ENCRYPTED PRIVATE KEY ----\n---- END SSH2 ENCRYPTED PRIVATE KEY ----", "", ""},
    {"private-key-putty", "!{ppk}", "!PuTTY-User-Key-File-3: ssh-ed25519", "", ""},
    {"openvpn-static-key", "!{ovpn}", "!-----BEGIN OpenVPN Static key V1-----\n-----END OpenVPN Static key V1-----", "", ""},
    {"wireguard-private-key", "!PrivateKey = {42:b}A=", "!PrivateKey = <private key>", "", ""},
    {"pkcs12-file", "@certs/server.p12", "@certs/server.pem", "", ""},
    {"java-keystore-file", "@android/app/release.keystore", "@android/app/keystore.md", "", ""},
    {"htpasswd-hash", "!ops:$apr1${8:A}${22:A}", "!ops:$apr1$", "", "deploy/.htpasswd"},
    {"postgres-connection-string", "!DATABASE_URL=postgres://app:{16:A}@db.internal:5432/crm", "!DATABASE_URL=postgres://app:${DB_PASSWORD}@db.internal:5432/crm", "", ""},
    {"mysql-connection-string", "!DATABASE_URL=mysql://app:{16:A}@db.internal:5432/crm", "!DATABASE_URL=mysql://app:${DB_PASSWORD}@db.internal:5432/crm", "", ""},
    {"mongodb-connection-string", "!DATABASE_URL=mongodb+srv://app:{16:A}@db.internal:5432/crm", "!DATABASE_URL=mongodb+srv://app:${DB_PASSWORD}@db.internal:5432/crm", "", ""},
    {"redis-connection-string", "!DATABASE_URL=rediss://app:{16:A}@db.internal:5432/crm", "!DATABASE_URL=rediss://app:${DB_PASSWORD}@db.internal:5432/crm", "", ""},
    {"amqp-connection-string", "!DATABASE_URL=amqps://app:{16:A}@db.internal:5432/crm", "!DATABASE_URL=amqps://app:${DB_PASSWORD}@db.internal:5432/crm", "", ""},
    {"sqlserver-url-connection-string", "!DATABASE_URL=mssql://app:{16:A}@db.internal:5432/crm", "!DATABASE_URL=mssql://app:${DB_PASSWORD}@db.internal:5432/crm", "", ""},
    {"jdbc-connection-string", "!DATABASE_URL=jdbc:postgresql://app:{16:A}@db.internal:5432/crm", "!DATABASE_URL=jdbc:postgresql://app:${DB_PASSWORD}@db.internal:5432/crm", "", ""},
    {"clickhouse-connection-string", "!DATABASE_URL=clickhouse://app:{16:A}@db.internal:5432/crm", "!DATABASE_URL=clickhouse://app:${DB_PASSWORD}@db.internal:5432/crm", "", ""},
    {"snowflake-connection-string", "!DATABASE_URL=snowflake://app:{16:A}@db.internal:5432/crm", "!DATABASE_URL=snowflake://app:${DB_PASSWORD}@db.internal:5432/crm", "", ""},
    {"neo4j-connection-string", "!DATABASE_URL=neo4j+s://app:{16:A}@db.internal:5432/crm", "!DATABASE_URL=neo4j+s://app:${DB_PASSWORD}@db.internal:5432/crm", "", ""},
    {"nats-connection-string", "!DATABASE_URL=nats://app:{16:A}@db.internal:5432/crm", "!DATABASE_URL=nats://app:${DB_PASSWORD}@db.internal:5432/crm", "", ""},
    {"mqtt-connection-string", "!DATABASE_URL=mqtts://app:{16:A}@db.internal:5432/crm", "!DATABASE_URL=mqtts://app:${DB_PASSWORD}@db.internal:5432/crm", "", ""},
    {"kafka-connection-string", "!DATABASE_URL=kafka+ssl://app:{16:A}@db.internal:5432/crm", "!DATABASE_URL=kafka+ssl://app:${DB_PASSWORD}@db.internal:5432/crm", "", ""},
    {"ldap-connection-string", "!DATABASE_URL=ldaps://app:{16:A}@db.internal:5432/crm", "!DATABASE_URL=ldaps://app:${DB_PASSWORD}@db.internal:5432/crm", "", ""},
    {"smtp-connection-string", "!DATABASE_URL=smtps://app:{16:A}@db.internal:5432/crm", "!DATABASE_URL=smtps://app:${DB_PASSWORD}@db.internal:5432/crm", "", ""},
    {"ftp-connection-string", "!DATABASE_URL=sftp://app:{16:A}@db.internal:5432/crm", "!DATABASE_URL=sftp://app:${DB_PASSWORD}@db.internal:5432/crm", "", ""},
    {"elasticsearch-connection-string", "!DATABASE_URL=elasticsearch://app:{16:A}@db.internal:5432/crm", "!DATABASE_URL=elasticsearch://app:${DB_PASSWORD}@db.internal:5432/crm", "", ""},
    {"sqlserver-connection-string", "!ConnectionStrings__Crm=Server=sql.internal;Database=crm;User Id=app;Password={16:A};", "!ConnectionStrings__Crm=Server=sql.internal;Database=crm;User Id=app;Password=changeme;", "", ""},
    {"kafka-sasl-jaas-password", "!sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"app\" password=\"{16:A}\";", "!sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"app\" password=\"${KAFKA_PASSWORD}\";", "", ""},
    {"generic-url-password", "!url = \"https://deploy:{16:A}@git.internal/crm.git\"", "!url = \"https://deploy:${GIT_PASSWORD}@git.internal/crm.git\"", "", ""},
    {"generic-secret", "{20:A}", "changeme_changeme", "CLIENT_SECRET", ""},
};
// clang-format on

std::string Base64(std::string_view bytes, bool url, bool pad) {
  const char* alphabet = url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                             : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(alphabet[(acc >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(alphabet[(acc << (6 - bits)) & 63]);
  while (pad && out.size() % 4 != 0) out.push_back('=');
  return out;
}

// An age identity with a valid (or, with `corrupt`, an invalid) bech32 checksum.
std::string AgeKey(std::mt19937& rng, bool corrupt) {
  const std::string charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
  const std::string hrp = "age-secret-key-";
  std::vector<int> values;
  for (int i = 0; i < 52; ++i) values.push_back(static_cast<int>(rng() % 32));
  const uint32_t gen[5] = {0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3};
  auto polymod = [&](const std::vector<int>& v) {
    uint32_t chk = 1;
    for (int x : v) {
      uint32_t top = chk >> 25;
      chk = ((chk & 0x1ffffff) << 5) ^ static_cast<uint32_t>(x);
      for (int i = 0; i < 5; ++i) {
        if ((top >> i) & 1) chk ^= gen[i];
      }
    }
    return chk;
  };
  std::vector<int> all;
  for (char c : hrp) all.push_back(static_cast<unsigned char>(c) >> 5);
  all.push_back(0);
  for (char c : hrp) all.push_back(static_cast<unsigned char>(c) & 31);
  all.insert(all.end(), values.begin(), values.end());
  for (int i = 0; i < 6; ++i) all.push_back(0);
  uint32_t mod = polymod(all) ^ 1;
  if (corrupt) mod ^= 1;
  std::string out = "AGE-SECRET-KEY-1";
  for (int v : values) out.push_back(static_cast<char>(std::toupper(charset[v])));
  for (int i = 0; i < 6; ++i) {
    out.push_back(static_cast<char>(std::toupper(charset[(mod >> (5 * (5 - i))) & 31])));
  }
  return out;
}

class Expander {
 public:
  explicit Expander(uint32_t seed) : rng_(seed) {}

  std::string Expand(std::string_view t) {
    std::string out;
    for (size_t i = 0; i < t.size(); ++i) {
      if (t[i] != '{') {
        out.push_back(t[i]);
        continue;
      }
      size_t close = t.find('}', i);
      std::string token(t.substr(i + 1, close - i - 1));
      std::optional<std::string> value =
          close == std::string_view::npos ? std::nullopt : Token(token, out);
      if (!value) {  // not a template token: a literal brace, as in "${DB_PASSWORD}"
        out.push_back('{');
        continue;
      }
      out += *value;
      i = close;
    }
    return out;
  }

 private:
  std::string Random(std::string_view alphabet, size_t n) {
    std::string s;
    for (size_t i = 0; i < n; ++i) s.push_back(alphabet[rng_() % alphabet.size()]);
    return s;
  }

  std::string Class(char c, size_t n) {
    static const std::map<char, std::string> kClasses = {
        {'A', "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"},
        {'a', "abcdefghijklmnopqrstuvwxyz0123456789"},
        {'U', "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"},
        {'h', "0123456789abcdef"},
        {'H', "0123456789ABCDEF"},
        {'d', "0123456789"},
        {'l', "abcdefghijklmnopqrstuvwxyz"},
        {'u', "ABCDEFGHIJKLMNOPQRSTUVWXYZ"},
        {'L', "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"},
        {'b', "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"},
        {'B', "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"},
        {'3', "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"},
    };
    return Random(kClasses.at(c), n);
  }

  std::string Json(size_t min_encoded) {
    std::string json = "{\"k\":\"" + Class('A', 16) + "\",\"n\":\"ci\",\"id\":1";
    while (json.size() * 4 / 3 < min_encoded) json += ",\"p\":\"" + Class('A', 24) + "\"";
    return json + "}";
  }

  std::optional<std::string> Token(const std::string& token, const std::string& so_far) {
    if (token.empty() || token.find_first_of("{\"") != std::string::npos) return std::nullopt;
    if (token.find(' ') != std::string::npos && !token.starts_with("pem:")) return std::nullopt;
    if (size_t colon = token.find(':'); colon != std::string::npos && std::isdigit(token[0])) {
      return Class(token[colon + 1], std::stoul(token.substr(0, colon)));
    }
    if (size_t star = token.find('*'); star != std::string::npos) {
      return std::string(std::stoul(token.substr(0, star)), token[star + 1]);
    }
    if (token == "crc" || token == "badcrc") {
      std::string check = KeyCheck(so_far.substr(so_far.rfind('_') + 1));
      if (token == "badcrc") check.back() = check.back() == '0' ? '1' : '0';
      return check;
    }
    if (token == "uuid" || token == "UUID") {
      std::string u = Class(token == "uuid" ? 'h' : 'H', 32);
      return u.substr(0, 8) + "-" + u.substr(8, 4) + "-" + u.substr(12, 4) + "-" + u.substr(16, 4) +
             "-" + u.substr(20);
    }
    if (token == "jwt") {
      return Base64("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", true, false) + "." +
             Base64("{\"sub\":\"" + Class('d', 10) + "\",\"role\":\"ci\"}", true, false) + "." +
             Class('B', 43);
    }
    if (token.starts_with("b64json:"))
      return Base64(Json(std::stoul(token.substr(8))), false, true);
    if (token.starts_with("b64jsonu:")) {
      return Base64(Json(std::stoul(token.substr(9))), true, false);
    }
    if (token == "age" || token == "badage") return AgeKey(rng_, token == "badage");
    if (token == "discord") {
      return Base64(Class('d', 18), true, false) + "." + Class('B', 6) + "." + Class('B', 38);
    }
    if (token.starts_with("pem:")) return testing::FakePem(token.substr(4), 10);
    if (token == "ssh2") {
      std::string s =
          "---- BEGIN "
          "SSH2 ENCRYPTED PRIVATE KEY ----\nComment: \"deploy\"\n";
      for (int i = 0; i < 8; ++i) s += Class('b', 64) + "\n";
      return s + "---- END SSH2 ENCRYPTED PRIVATE KEY ----";
    }
    if (token == "ppk") {
      return "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: deploy\n"
             "Public-Lines: 2\n" +
             Class('b', 64) + "\n" + Class('b', 20) + "\nPrivate-Lines: 1\n" + Class('b', 44) +
             "\nPrivate-MAC: " + Class('h', 64);
    }
    if (token == "ovpn") {
      std::string s = "-----BEGIN OpenVPN Static key V1-----\n";
      for (int i = 0; i < 16; ++i) s += Class('h', 32) + "\n";
      return s + "-----END OpenVPN Static key V1-----";
    }
    return std::nullopt;
  }

  std::mt19937 rng_;
};

struct Sample {
  std::string text;    // the line (or lines) to scan, or the path of a path rule
  std::string secret;  // the value the rule must report; empty for whole-line templates
  std::string path;
  bool path_only = false;
};

std::string NameOf(const Case& c) {
  if (*c.name) return c.name;
  std::string n = c.rule;
  for (char& ch : n) ch = ch == '-' ? '_' : static_cast<char>(std::toupper(ch));
  return n;
}

Sample Make(const Case& c, std::string_view tmpl, size_t index) {
  Expander gen(static_cast<uint32_t>(index * 7919 + tmpl.size()));
  Sample s;
  s.path = *c.path ? c.path : "app/config.py";
  if (tmpl.starts_with('@')) {
    s.path = std::string(tmpl.substr(1));
    s.path_only = true;
    return s;
  }
  if (tmpl.starts_with('!')) {
    s.text = gen.Expand(tmpl.substr(1)) + "\n";
    return s;
  }
  s.secret = gen.Expand(tmpl);
  std::string name = NameOf(c);
  switch (index % 4) {
    case 0:
      s.text = "export " + name + "=\"" + s.secret + "\"\n";
      break;
    case 1:
      s.text = "  " + name + ": " + s.secret + "\n";
      break;
    case 2: {
      std::string lower = name;
      for (char& ch : lower) ch = static_cast<char>(std::tolower(ch));
      s.text = "  \"" + lower + "\": \"" + s.secret + "\",\n";
      break;
    }
    default:
      s.text = name + " = '" + s.secret + "'\n";
  }
  return s;
}

class BuiltinRuleCases : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto s = Scanner::Create(scan::BuiltinRules());
    ASSERT_TRUE(s.ok()) << s.status().message();
    scanner_ = std::move(s).value().release();
  }
  static std::vector<Finding> Scan(const Sample& s) {
    if (s.path_only) return scanner_->PathFindings({.path = s.path});
    Scanner::Scratch scratch = scanner_->NewScratch();
    return scanner_->Scan(s.text, {.path = s.path}, scratch);
  }
  static bool IsGeneric(const std::string& rule) { return rule.starts_with("generic"); }

  static const Scanner* scanner_;
};
const Scanner* BuiltinRuleCases::scanner_ = nullptr;

TEST_F(BuiltinRuleCases, AtLeast200Rules) {
  EXPECT_GE(scan::BuiltinRules().rules.size(), 200u);
  std::cout << "built-in rules: " << scan::BuiltinRules().rules.size() << "\n";
}

TEST_F(BuiltinRuleCases, EveryBuiltinRuleHasACase) {
  std::set<std::string> cased;
  for (const Case& c : kCases) {
    EXPECT_TRUE(cased.insert(c.rule).second) << "two cases for " << c.rule;
  }
  std::set<std::string> ids;
  for (const Rule& r : scan::BuiltinRules().rules) {
    ids.insert(r.id);
    EXPECT_TRUE(cased.count(r.id)) << "rule '" << r.id << "' has no test case in kCases";
    EXPECT_FALSE(r.description.empty()) << r.id;
    EXPECT_TRUE(r.regex == nullptr || !r.keywords.empty() || r.id == "twilio-api-key")
        << "rule '" << r.id << "' has no keywords: the prefilter cannot skip it";
  }
  for (const Case& c : kCases) EXPECT_TRUE(ids.count(c.rule)) << "case for unknown rule " << c.rule;
}

TEST_F(BuiltinRuleCases, EachRuleFindsItsValue) {
  size_t index = 0;
  for (const Case& c : kCases) {
    Sample s = Make(c, c.find, index++);
    std::vector<Finding> found = Scan(s);
    bool hit = std::any_of(found.begin(), found.end(), [&](const Finding& f) {
      return f.rule_id() == c.rule && (s.secret.empty() || f.secret == s.secret);
    });
    std::string seen;
    for (const Finding& f : found) seen += " " + f.rule_id();
    EXPECT_TRUE(hit) << c.rule << " missed:\n" << s.text << s.path << "\nfound:" << seen;
  }
}

TEST_F(BuiltinRuleCases, EachRuleSkipsItsNearMiss) {
  size_t index = 0;
  for (const Case& c : kCases) {
    Sample s = Make(c, c.miss, index++);
    for (const Finding& f : Scan(s)) {
      EXPECT_TRUE(f.rule_id() != c.rule && IsGeneric(f.rule_id()))
          << c.rule << "'s near miss was reported by " << f.rule_id() << ":\n"
          << s.text << s.path;
    }
  }
}

// The recall corpus: every format in one file, beside every near miss in another, as a tree
// scan sees them. All found where they are; no near miss reported by a provider rule.
TEST_F(BuiltinRuleCases, CorpusOfEveryFormat) {
  std::string finds, misses;
  std::vector<std::pair<const Case*, int64_t>> expected;
  int64_t line = 1;
  size_t index = 0;
  size_t path_cases = 0;
  for (const Case& c : kCases) {
    Sample s = Make(c, c.find, index);
    Sample m = Make(c, c.miss, index++);
    if (s.path_only || *c.path) {
      ++path_cases;  // checked with their own path in EachRuleFindsItsValue
      continue;
    }
    expected.emplace_back(&c, line);
    finds += s.text + "\n";
    line += static_cast<int64_t>(std::count(s.text.begin(), s.text.end(), '\n')) + 1;
    misses += m.text + "\n";
  }
  Scanner::Scratch scratch = scanner_->NewScratch();
  std::vector<Finding> found = scanner_->Scan(finds, {.path = "corpus/all.env"}, scratch);
  size_t hits = 0;
  for (const auto& [c, at] : expected) {
    bool hit = std::any_of(found.begin(), found.end(), [&](const Finding& f) {
      return f.rule_id() == c->rule && f.line == at;
    });
    hits += hit;
    EXPECT_TRUE(hit) << c->rule << " not found on line " << at << " of the corpus";
  }
  size_t reported_misses = 0;
  for (const Finding& f : scanner_->Scan(misses, {.path = "corpus/misses.env"}, scratch)) {
    if (!IsGeneric(f.rule_id())) {
      ++reported_misses;
      ADD_FAILURE() << "near miss reported by " << f.rule_id() << " on line " << f.line;
    }
  }
  std::cout << "recall corpus: " << hits << " / " << expected.size() << " formats found ("
            << path_cases << " path-specific cases checked alone); " << reported_misses
            << " near misses reported\n";
}

TEST_F(BuiltinRuleCases, FindingsCarrySeverityAndWhereToRevoke) {
  Expander gen(11);
  Sample s{.text = "STRIPE_KEY=" + gen.Expand("sk_live_{24:A}") + "\n" +
                   testing::FakePem("RSA PRIVATE KEY", 4) + "password = \"" + gen.Expand("{20:A}") +
                   "\"\n",
           .secret = "",
           .path = "app/config.env"};
  std::map<std::string, Finding> by_rule;
  for (Finding& f : Scan(s)) by_rule[f.rule_id()] = f;
  std::string ids;
  for (const auto& [id, f] : by_rule) ids += " " + id;
  ASSERT_TRUE(by_rule.count("stripe-secret-key") && by_rule.count("private-key-rsa") &&
              by_rule.count("generic-secret"))
      << "found:" << ids;
  EXPECT_EQ(by_rule["stripe-secret-key"].severity(), "high");
  EXPECT_EQ(by_rule["stripe-secret-key"].revoke_url(), "https://dashboard.stripe.com/apikeys");
  EXPECT_EQ(by_rule["private-key-rsa"].severity(), "critical");
  EXPECT_EQ(by_rule["generic-secret"].severity(), "medium");
  EXPECT_EQ(by_rule["generic-secret"].revoke_url(), "");
}

TEST(Validators, GithubCrc32) {
  std::string body = testing::FakeSecret("", 30, testing::kAlnum, 3);
  EXPECT_TRUE(Validate(Validator::kGithubCrc32, "ghp_" + body + KeyCheck(body)));
  std::string wrong = KeyCheck(body);
  wrong[0] = wrong[0] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(Validate(Validator::kGithubCrc32, "ghp_" + body + wrong));
  EXPECT_FALSE(Validate(Validator::kGithubCrc32, "ghp_abc"));
}

TEST(Validators, JwtNeedsJsonHeaderWithAlg) {
  std::string payload = Base64("{\"sub\":\"1\"}", true, false);
  std::string sig = testing::FakeSecret("", 43);
  EXPECT_TRUE(Validate(Validator::kJwt,
                       Base64("{\"alg\":\"none\"}", true, false) + "." + payload + "." + sig));
  EXPECT_FALSE(Validate(Validator::kJwt,
                        Base64("{\"typ\":\"JWT\"}", true, false) + "." + payload + "." + sig));
  EXPECT_FALSE(Validate(Validator::kJwt, "eyJ" + sig + "." + payload + "." + sig));
  EXPECT_FALSE(Validate(Validator::kJwt, "no-dots"));
}

TEST(Validators, AgeBech32) {
  std::mt19937 rng(5);
  EXPECT_TRUE(Validate(Validator::kAgeBech32, AgeKey(rng, false)));
  EXPECT_FALSE(Validate(Validator::kAgeBech32, AgeKey(rng, true)));
}

TEST(Validators, DiscordBotTokenStartsWithANumericId) {
  std::string tail = "." + testing::FakeSecret("", 6) + "." + testing::FakeSecret("", 38);
  EXPECT_TRUE(Validate(Validator::kDiscordBotToken,
                       Base64(testing::FakeSecret("", 18, "0123456789"), true, false) + tail));
  EXPECT_FALSE(Validate(Validator::kDiscordBotToken, "M" + testing::FakeSecret("", 23) + tail));
}

TEST(Validators, UnknownNameIsAnError) {
  auto set = ParseRules("[[rules]]\nid = \"a\"\nregex = '''a'''\nvalidate = \"luhn\"\n", "r.toml");
  ASSERT_FALSE(set.ok());
  EXPECT_NE(set.status().message().find("validate must be one of"), std::string::npos)
      << set.status().message();
  EXPECT_NE(set.status().message().find("r.toml, line 1"), std::string::npos);
}

}  // namespace
}  // namespace keyhold::scan
